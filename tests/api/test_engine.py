"""The service's one call into the engine: a batch of claims settles each as it would alone, under
its most favourable category; the start-up warm-up settles under every bundled policy."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.engine import Case, ClaimFacts, settle_many, settle_one, warm_up
from tiers.codes import CATEGORIES, MED_TYPES
from tiers.loader import load_policy
from tiers.tables import compile_policy


@pytest.mark.parametrize("name", ["demo", "beijing", "nantong"])
def test_warm_up_settles_a_claim_under_each_bundled_policy(name: str) -> None:
    outcome = warm_up(compile_policy(load_policy(name)))
    paid = sum(outcome.amounts[c] for c in ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"))
    assert outcome.amounts["fund_pay_sumamt"] == paid
    assert paid + outcome.amounts["psn_part_amt"] == 10_000
    assert [line["layer"] for line in outcome.lines] == [la.id for la in load_policy(name).layers]


DEMO = compile_policy(load_policy("demo"))


@st.composite
def _cases(draw: st.DrawFn) -> list[Case]:
    """Claims of distinct persons, each on accumulators left by an earlier claim of the year."""
    cases = []
    for i in range(draw(st.integers(1, 6))):
        total = draw(st.integers(0, 3 * 10**7))

        def facts(claim_id: str, day: int, amount: int, person: str = f"P{i}") -> ClaimFacts:
            return ClaimFacts(
                claim_id,
                person,
                draw(st.sampled_from(MED_TYPES)),
                draw(st.integers(1, 3)),
                date(2024, 3, day),
                draw(st.sampled_from(["C50.1", "I63.9", "J18.9", ""])),
                draw(st.booleans()),
                amount,
                draw(st.integers(0, amount // 10)),
                0,
                0,
            )

        categories = draw(st.lists(st.sampled_from(CATEGORIES), max_size=3))
        earlier = settle_one(facts(f"E{i}", 1, draw(st.integers(0, 3 * 10**7))), categories, DEMO, {})
        cases.append(Case(facts(f"C{i}", 2, total), categories, earlier.delta))
    return cases


@settings(max_examples=40, deadline=None)
@given(cases=_cases())
def test_a_batch_settles_each_claim_as_it_would_alone(cases: list[Case]) -> None:
    together = settle_many(cases, DEMO)
    alone = [settle_one(c.facts, c.categories, DEMO, c.opening) for c in cases]
    assert together == alone


@settings(max_examples=40, deadline=None)
@given(cases=_cases())
def test_the_most_favourable_category_is_kept(cases: list[Case]) -> None:
    for case, outcome in zip(cases, settle_many(cases, DEMO), strict=True):
        tried = [settle_one(case.facts, [c], DEMO, case.opening) for c in sorted(set(case.categories) or {"general"})]
        lowest = min(o.amounts["psn_part_amt"] for o in tried)
        assert outcome.amounts["psn_part_amt"] == lowest
        first = next(
            o for o in sorted(tried, key=lambda o: CATEGORIES.index(o.category)) if o.amounts["psn_part_amt"] == lowest
        )
        assert outcome == first
