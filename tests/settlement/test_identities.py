"""Categories from dated identity periods (就高不重复) and arrival order: engine == Decimal oracle."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.claims import ClaimValidationError, from_frame
from settlement.engine import settle
from settlement.identities import IdentityPeriods, IdentityValidationError, candidates, with_candidates
from tests.helpers import claims_frame, oracle_rows, result_in_yuan
from tests.oracle import settle_reference
from tests.settlement.test_properties import POLICIES, START, claim_rows
from tiers.codes import CATEGORIES

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def identity_rows(draw: st.DrawFn, persons: int = 4) -> list[dict[str, str]]:
    """Identity periods of a few persons: overlapping, open-ended, before and after the claims."""
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        start = START + timedelta(days=draw(st.integers(-60, 500)))
        length = draw(st.one_of(st.none(), st.integers(0, 300)))
        rows.append(
            {
                "person_id": f"P{draw(st.integers(0, persons - 1))}",
                "category": draw(st.sampled_from(CATEGORIES)),
                "valid_from": start.isoformat(),
                "valid_to": "" if length is None else (start + timedelta(days=length)).isoformat(),
            }
        )
    return rows


def slow_candidates(claim: dict[str, Any], identities: list[dict[str, str]]) -> list[str]:
    """The categories of the claim's person valid on its date, by the definition, one by one."""
    held = {
        row["category"]
        for row in identities
        if row["person_id"] == claim["person_id"]
        and row["valid_from"] <= claim["settle_date"]
        and (row["valid_to"] == "" or claim["settle_date"] <= row["valid_to"])
    }
    return sorted(held, key=CATEGORIES.index) or ["general"]


def _without_category(rows: list[dict[str, Any]], arrival: list[int] | None = None) -> pd.DataFrame:
    frame = claims_frame(rows).drop(columns="category")
    if arrival is not None:
        frame["arrival"] = [str(a) for a in arrival]
    return frame


def _periods(identities: list[dict[str, str]]) -> IdentityPeriods:
    return IdentityPeriods.from_frame(
        pd.DataFrame(identities, columns=["person_id", "category", "valid_from", "valid_to"])
    )


@SETTINGS
@given(rows=claim_rows(), identities=identity_rows())
def test_candidates_are_the_identities_valid_on_the_date(
    rows: list[dict[str, Any]], identities: list[dict[str, str]]
) -> None:
    table = from_frame(_without_category(rows), identities=True)
    found = candidates(table, _periods(identities))
    got = [[CATEGORIES[c] for c in found.category[found.start[i] : found.start[i + 1]]] for i in range(len(rows))]
    assert got == [slow_candidates(row, identities) for row in rows]


@SETTINGS
@given(
    rows=claim_rows(),
    identities=identity_rows(),
    name=st.sampled_from(sorted(n for n, p in POLICIES.items() if p.versions[0] <= date(2023, 1, 1))),
    arrival=st.booleans(),
    data=st.data(),
)
def test_most_favourable_candidate_equals_reference(
    rows: list[dict[str, Any]], identities: list[dict[str, str]], name: str, arrival: bool, data: st.DataObject
) -> None:
    """Each claim settled under the category its person's identities give it that pays most, in
    date order or in arrival order: the engine equals the Decimal oracle to the fen."""
    numbers = data.draw(st.permutations(range(len(rows))))
    frame = _without_category(rows, numbers if arrival else None)
    table = with_candidates(from_frame(frame, identities=True), _periods(identities))
    result = settle(table, POLICIES[name])
    oracle = oracle_rows(claims_frame([{**r, "category": "general"} for r in rows]))
    for i, (row, source) in enumerate(zip(oracle, rows, strict=True)):
        row["categories"] = slow_candidates(source, identities)
        if arrival:
            row["arrival"] = numbers[i]
    expected, _ = settle_reference(oracle, POLICIES[name].policy)
    engine = result_in_yuan(result)
    chosen = dict(zip(result.claims.claim_id, [CATEGORIES[c] for c in result.category], strict=True))
    for claim_id, want in expected.items():
        assert engine[claim_id] == {c: want[c] for c in engine[claim_id]}, claim_id
        assert chosen[claim_id] == want["category"], claim_id


@SETTINGS
@given(rows=claim_rows(max_claims=14), identities=identity_rows(), data=st.data())
def test_arrival_order_claim_by_claim_equals_one_batch(
    rows: list[dict[str, Any]], identities: list[dict[str, str]], data: st.DataObject
) -> None:
    """What the service does — each claim as it arrives, on the accumulators carried so far —
    equals one batch given the arrival numbers (and the same identity periods)."""
    order = data.draw(st.permutations(range(len(rows))))
    frame = _without_category(rows, order)
    periods = _periods(identities)
    whole = settle(with_candidates(from_frame(frame, identities=True), periods), POLICIES["demo"]).frame()
    opening, parts = None, []
    for position in sorted(range(len(rows)), key=lambda i: order[i]):
        one = frame.iloc[position : position + 1].reset_index(drop=True)
        settled = settle(with_candidates(from_frame(one, identities=True), periods), POLICIES["demo"], opening)
        parts.append(settled.frame())
        opening = settled.closing()
    by_claim = pd.concat(parts, ignore_index=True).set_index("claim_id").sort_index()
    assert by_claim.equals(whole.set_index("claim_id").sort_index())


def test_identity_file_errors_name_the_row_field_and_reason() -> None:
    rows = [
        {"person_id": "P1", "category": "dibao", "valid_from": "2024-01-01", "valid_to": ""},
        {"person_id": "P1", "category": "rich", "valid_from": "2024-01-01", "valid_to": ""},
        {"person_id": "", "category": "tekun", "valid_from": "2024-13-01", "valid_to": "2023-01-01"},
        {"person_id": "P2", "category": "tekun", "valid_from": "2024-05-01", "valid_to": "2024-04-30"},
    ]
    with pytest.raises(IdentityValidationError) as error:
        _periods(rows)
    assert [str(p) for p in error.value.problems] == [
        "identity row 3: category: unknown category; expected one of " + str(list(CATEGORIES)),
        "identity row 4: person_id: empty person_id",
        "identity row 4: valid_from: not a date YYYY-MM-DD",
        "identity row 5: valid_to: before valid_from",
    ]


def test_a_category_column_and_identities_are_refused_together() -> None:
    frame = claims_frame([{**_row(), "category": "dibao"}])
    with pytest.raises(ClaimValidationError, match="category: the categories come from the identity periods"):
        from_frame(frame, identities=True)


def test_bad_arrival_numbers_are_refused() -> None:
    frame = claims_frame([{**_row(), "category": "dibao"}]).assign(arrival="-1")
    with pytest.raises(ClaimValidationError, match="arrival: not a whole number"):
        from_frame(frame)


def _row() -> dict[str, Any]:
    return {
        "claim_id": "C1", "person_id": "P1", "med_type": "21", "hospital_level": 3,
        "settle_date": date(2024, 5, 1).isoformat(), "diagnosis": "C50", "accident": 0,
        "medfee_sumamt": "50000.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0",
    }  # fmt: skip
