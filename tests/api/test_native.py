"""The native reply of a new settlement, written by hand from its values, is the response model's
bytes; the start-up warm-up settles a claim under every bundled policy."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import native
from api.books.writing import new_id
from api.claims import ClaimFacts, claims_table, ledger_of, settlement_values
from api.warmup import warm_up
from settlement.engine import settle
from settlement.explanation import columns
from settlement.identities import IdentityPeriods, with_candidates
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
    periods = IdentityPeriods.of([(person_id, category, date(2024, 1, 1), None)])
    table = with_candidates(claims_table([facts], policy.settles_as), periods)
    result = settle(table, policy, ledger_of([]), explain=True)
    explained = columns(result)
    lines = [{**{c: explained[c][i] for c in explained}, "fund_pay_type": "390100"} for i in range(len(result.layers))]
    row = {**settlement_values(facts, result, 0, category, "H-1", 1), "setl_id": new_id("S")}
    expected = native.settlement_out(row, lines, []).model_dump_json().encode()
    assert native.settlement_json(row, lines) == expected


@pytest.mark.parametrize("name", ["demo", "beijing", "nantong"])
def test_warm_up_settles_a_claim_under_each_bundled_policy(name: str) -> None:
    explained = warm_up(compile_policy(load_policy(name)))
    assert list(explained["layer"]) == [la.id for la in load_policy(name).layers]
