"""The service's one call into the engine: the start-up warm-up settles under every bundled policy."""

from __future__ import annotations

import pytest

from api.engine import warm_up
from tiers.loader import load_policy
from tiers.tables import compile_policy


@pytest.mark.parametrize("name", ["demo", "beijing", "nantong"])
def test_warm_up_settles_a_claim_under_each_bundled_policy(name: str) -> None:
    outcome = warm_up(compile_policy(load_policy(name)))
    paid = sum(outcome.amounts[c] for c in ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"))
    assert outcome.amounts["fund_pay_sumamt"] == paid
    assert paid + outcome.amounts["psn_part_amt"] == 10_000
    assert [line["layer"] for line in outcome.lines] == [la.id for la in load_policy(name).layers]
