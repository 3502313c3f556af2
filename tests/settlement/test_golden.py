"""Golden cases with hand-checked numbers (tests/cases/golden/*.yaml), one per rule of the policies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from settlement.engine import settle
from tests.helpers import GOLDEN, claims_frame, load_golden, oracle_rows, result_in_yuan
from tests.oracle import settle_reference
from tiers.loader import load_policy

PAYMENTS = {"hifp_pay", "hifmi_pay", "maf_pay", "supp_pay", "psn_part_amt"}


def _check(actual: dict[str, dict[str, Decimal]], expected: dict[str, dict[str, object]]) -> None:
    for claim_id, fields in expected.items():
        for field, value in fields.items():
            assert actual[claim_id][field] == Decimal(str(value)), f"{claim_id} {field}"


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_engine_matches_hand_checked_numbers(path: Path) -> None:
    case = load_golden(path)
    assert all(set(fields) >= PAYMENTS for fields in case["expected"].values()), "list every layer and psn"
    result = settle(claims_frame(case["rows"]), load_policy(case["policy"]))
    _check(result_in_yuan(result), case["expected"])


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_reference_matches_hand_checked_numbers(path: Path) -> None:
    case = load_golden(path)
    out, _ = settle_reference(oracle_rows(claims_frame(case["rows"])), load_policy(case["policy"]))
    _check(out, case["expected"])


def test_golden_cases_cover_every_rule_of_demo() -> None:
    policy = load_policy("demo")
    rules = {(layer.id, rule.id) for layer in policy.layers for rule in layer.rules}
    seen: set[tuple[str, str]] = set()
    for path in GOLDEN:
        case = load_golden(path)
        if case["policy"] != "demo":
            continue
        result = settle(claims_frame(case["rows"]), policy)
        for index, layer in enumerate(result.layers):
            table = result.policy.layer_table(layer.table_id)
            for trace in result.traces(index):
                seen |= {(layer.table_id, table.rule_ids[r]) for r in set(table.rule_of_term(trace.term).tolist())}
    assert rules <= seen, f"rules without a golden case: {sorted(rules - seen)}"
