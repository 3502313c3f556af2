"""Per-claim caps (单次限额) beside the annual cap: what one claim may be paid, explained."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from settlement.engine import settle
from settlement.explanation import explain
from tiers.loader import load_policy

POLICY = load_policy(Path(__file__).parents[1] / "cases" / "claim-cap.yaml")


def _outpatient(claim_id: str, day: str) -> dict[str, str]:
    return {"claim_id": claim_id, "person_id": "P", "category": "general", "med_type": "11", "hospital_level": "1",
            "settle_date": day, "diagnosis": "", "accident": "0", "medfee_sumamt": "1000", "fulamt_ownpay_amt": "0",
            "overlmt_selfpay": "0", "preselfpay_amt": "0"}  # fmt: skip


def test_each_claim_is_paid_at_most_its_claim_cap_until_the_annual_cap_is_used() -> None:
    """General outpatient 50%, annual cap 400, 100 a visit: 1,000 a visit → 500 → 100, four times;
    the fifth visit gets nothing (the 400 are used). The explanation says which cap bound."""
    claims = pd.DataFrame([_outpatient(f"V{i}", f"2025-0{i}-01") for i in range(1, 6)])
    result = settle(claims, POLICY)
    assert result.frame()["hifp_pay"].tolist() == [10_000, 10_000, 10_000, 10_000, 0]
    basic = explain(result).query("layer == 'basic'").set_index("claim_id")
    assert basic["raw_amount"].tolist() == [50_000] * 5
    assert basic["claim_cap"].tolist() == [10_000] * 5
    assert basic["cap_left"].tolist() == [30_000, 20_000, 10_000, 0, 0]


def test_no_claim_cap_is_empty_in_the_explanation_and_a_level_may_have_none() -> None:
    """Inpatient 100,000 at level 3 (no per-claim cap there): paid as in demo, claim_cap empty."""
    claim = {**_outpatient("A", "2025-03-01"), "med_type": "21", "hospital_level": "3", "medfee_sumamt": "100000"}
    basic = explain(settle(pd.DataFrame([claim]), POLICY)).query("layer == 'basic'")
    assert int(basic["paid"].iloc[0]) == (10_000_000 - 80_000) * 72 // 100
    assert basic["claim_cap"].isna().all()
