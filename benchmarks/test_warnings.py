"""Early warning on 1 M claims (200,000 persons): `settlement.warnings.warnings` over a settled batch
(the burden's grouped cumulative sums, thresholds by sorted search), and one grantable category's
re-settlement (`if_granted`)."""

from __future__ import annotations

from typing import Any

from settlement.claims import ClaimTable
from settlement.engine import settle
from settlement.warnings import claim_rows, if_granted, warnings
from tiers.tables import CompiledPolicy


def test_warnings_1e6(benchmark: Any, tables: dict[str, ClaimTable], demo: CompiledPolicy) -> None:
    result = settle(tables["1e6"], demo)
    rows = claim_rows(result)
    found = benchmark.pedantic(warnings, args=(rows, demo.policy), kwargs={"everyone": True}, rounds=5)
    assert len(found) > 0
    benchmark.extra_info["person_years"] = len(found)
    benchmark.extra_info["warned"] = int(found["warned"].sum())


def test_monitor_1e6(benchmark: Any, tables: dict[str, ClaimTable], demo: CompiledPolicy) -> None:
    """What `medrelief monitor` computes after reading the file: settle, warn, the grantable categories."""

    def monitor() -> int:
        result = settle(tables["1e6"], demo)
        return len(if_granted(result, warnings(claim_rows(result), demo.policy)))

    assert benchmark.pedantic(monitor, rounds=3) >= 0
