"""Bad input is rejected with the claim_id, the field and the reason; nothing is settled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from settlement.claims import ClaimValidationError, from_frame
from settlement.engine import settle
from tests.helpers import claims_frame
from tiers.loader import load_policy

GOOD: dict[str, Any] = {
    "claim_id": "X1",
    "person_id": "P1",
    "category": "dibao",
    "med_type": "21",
    "hospital_level": "2",
    "settle_date": "2024-03-01",
    "diagnosis": "C50.1",
    "accident": "0",
    "medfee_sumamt": "1000.00",
    "fulamt_ownpay_amt": "100.00",
    "overlmt_selfpay": "0",
    "preselfpay_amt": "50.5",
}


def _problems(**changes: Any) -> list[tuple[str, str, str]]:
    rows = [GOOD, {**GOOD, "claim_id": "X2", **changes}]
    with pytest.raises(ClaimValidationError) as info:
        from_frame(claims_frame(rows))
    return [(p.claim_id, p.field, p.reason) for p in info.value.problems]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"category": "poor"}, "category", "unknown value"),
        ({"med_type": "12"}, "med_type", "unknown visit type"),
        ({"hospital_level": "0"}, "hospital_level", "not a hospital tier"),
        ({"hospital_level": "三级"}, "hospital_level", "not a hospital tier"),
        ({"accident": "yes"}, "accident", "unknown value"),
        ({"medfee_sumamt": "-5.00"}, "medfee_sumamt", "negative amount"),
        ({"preselfpay_amt": "1.005"}, "preselfpay_amt", "more than two decimals"),
        ({"overlmt_selfpay": "12,5"}, "overlmt_selfpay", "not an amount"),
        ({"fulamt_ownpay_amt": "990.00"}, "medfee_sumamt", "components exceed the total"),
        ({"claim_id": "X1"}, "claim_id", "duplicate claim_id"),
        ({"settle_date": "2024-02-30"}, "settle_date", "not a date"),
        ({"settle_date": "01/03/2024"}, "settle_date", "not a date"),
        ({"person_id": ""}, "person_id", "empty person_id"),
    ],
)
def test_bad_row_names_claim_field_and_reason(changes: dict[str, Any], field: str, reason: str) -> None:
    problems = _problems(**changes)
    assert len(problems) == 1
    claim_id, got_field, got_reason = problems[0]
    assert claim_id == (changes.get("claim_id") or "X2")
    assert got_field == field
    assert reason in got_reason


def test_missing_column() -> None:
    frame = claims_frame([GOOD]).drop(columns=["diagnosis"])
    with pytest.raises(ClaimValidationError, match="diagnosis: missing column"):
        from_frame(frame)


def test_every_bad_row_is_reported() -> None:
    rows = [{**GOOD, "claim_id": f"B{i}", "medfee_sumamt": "-1"} for i in range(30)]
    with pytest.raises(ClaimValidationError) as info:
        from_frame(claims_frame(rows))
    assert len(info.value.problems) == 30
    assert "and 10 more" in str(info.value)


def test_claim_before_policy_is_in_force() -> None:
    frame = claims_frame([{**GOOD, "settle_date": "2022-12-31"}])
    with pytest.raises(ClaimValidationError, match="X1: settle_date: before policy demo"):
        settle(frame, load_policy("demo"))


def test_inscp_is_derived_exactly() -> None:
    table = from_frame(claims_frame([GOOD]))
    assert table.inscp.tolist() == [84950]  # 1000.00 − 100.00 − 0 − 50.50


def test_a_tier_the_policy_does_not_declare_is_refused_with_its_claims() -> None:
    """Tier 4 is Bengbu's 省属三级; demo has three tiers: the engine names the claim, not a crash."""
    rows = [GOOD, {**GOOD, "claim_id": "X2", "hospital_level": "4"}]
    assert len(settle(claims_frame(rows), load_policy("bengbu")).frame()) == 2
    with pytest.raises(ClaimValidationError) as info:
        settle(claims_frame(rows), load_policy("demo"))
    assert [(p.claim_id, p.field, p.reason) for p in info.value.problems] == [
        ("X2", "hospital_level", "unknown hospital tier; policy demo declares [1, 2, 3]")
    ]


def test_admission_date_dates_a_claim_only_where_the_policy_says_so() -> None:
    """tests/cases/golden/admission_dated.yaml's A1 under demo (dated by settlement): July's 72%;
    an admission after the discharge is refused naming the field."""
    row = {**GOOD, "hospital_level": "3", "med_type": "21", "settle_date": "2024-07-05",
           "admission_date": "2024-06-25", "medfee_sumamt": "10000.00", "fulamt_ownpay_amt": "0",
           "preselfpay_amt": "0", "diagnosis": "J18.9", "category": "general"}  # fmt: skip
    frame = claims_frame([row])
    assert settle(frame, load_policy("demo")).frame()["hifp_pay"].tolist() == [662_400]
    dated = str(Path(__file__).parents[1] / "cases" / "admission-dated.yaml")
    assert settle(frame, load_policy(dated)).frame()["hifp_pay"].tolist() == [644_000]
    with pytest.raises(ClaimValidationError) as info:
        from_frame(claims_frame([{**row, "admission_date": "2024-07-06"}]))
    assert [(p.field, p.reason) for p in info.value.problems] == [("admission_date", "after settle_date")]


def test_a_category_of_another_policy_is_refused_naming_the_claim() -> None:
    """A claim file read with Beijing's categories (its own retired_1960s is code 10) settled under
    demo, which has ten: the claim is named, never settled as some other category."""
    beijing = load_policy("beijing")
    rows = [GOOD, {**GOOD, "claim_id": "X2", "category": "retired_1960s"}]
    table = from_frame(claims_frame(rows), categories=beijing.categories())
    with pytest.raises(ClaimValidationError) as info:
        settle(table, load_policy("demo"))
    assert [(p.claim_id, p.field) for p in info.value.problems] == [("X2", "category")]
