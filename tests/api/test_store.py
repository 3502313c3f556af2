"""Rows in and out: a new settlement's response serialized by hand equals the response model's."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from api import store
from api.engine import ClaimFacts, settle_one
from tiers.codes import CATEGORIES, MED_TYPES
from tiers.loader import load_policy
from tiers.tables import CompiledPolicy, compile_policy

POLICIES = [compile_policy(load_policy(name)) for name in ("demo", "beijing", "nantong")]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(
    policy=st.sampled_from(POLICIES),
    category=st.sampled_from(CATEGORIES),
    med_type=st.sampled_from(MED_TYPES),
    level=st.integers(1, 3),
    diagnosis=st.sampled_from(["C50.1", "I63.9", "J18.9", ""]),
    total=st.integers(0, 10**9),
    own=st.integers(0, 10**6),
    claim_id=TEXT,
    person_id=TEXT,
)
def test_settlement_json_is_the_models_bytes(
    policy: CompiledPolicy,
    category: str,
    med_type: str,
    level: int,
    diagnosis: str,
    total: int,
    own: int,
    claim_id: str,
    person_id: str,
) -> None:
    facts = ClaimFacts(
        claim_id, person_id, med_type, level, date(2024, 5, 1), diagnosis, False, total, min(own, total), 0, 0
    )
    outcome = settle_one(facts, [category], policy, {})
    row = store.settlement_values(facts, outcome, "H-1", policy.id, 1, store.new_id("S"))
    expected = store.settlement_out(row, outcome.lines, []).model_dump_json().encode()
    assert store.settlement_json(row, outcome.lines) == expected
