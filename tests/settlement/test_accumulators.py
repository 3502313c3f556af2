"""Accumulator lookups against plain-dict oracles, on both sides of ``SMALL``; a large year split
in two equals it settled at once (the large-ledger paths end to end)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.data import claims_frame
from settlement.accumulators import (
    SMALL,
    AccumulatorError,
    Ledger,
    Openings,
    Segments,
    bucket_codes,
    bucket_keys,
    person_codes,
)
from settlement.engine import settle
from tiers.loader import load_policy
from tiers.tables import compile_policy

DEMO = compile_policy(load_policy("demo"))
PAIRS = list(bucket_keys(DEMO))
SIZES = st.integers(0, 2 * SMALL + 10)


def _ledger(pairs: list[tuple[str, str]], persons: list[str], years: list[int], amounts: list[int]) -> Ledger:
    objects = [np.array(values, dtype=object) for values in (persons, [p[0] for p in pairs], [p[1] for p in pairs])]
    money = np.array(amounts, dtype=np.int64)
    return Ledger(objects[0], np.array(years, np.int64), objects[1], objects[2], money, money * 2, money % 7)


@settings(max_examples=60, deadline=None)
@given(n_persons=SIZES, ids=SIZES.flatmap(lambda n: st.lists(st.integers(0, 3 * SMALL), min_size=n, max_size=n)))
def test_person_codes_equal_a_dict_lookup(n_persons: int, ids: list[int]) -> None:
    persons = np.array([f"P{i}" for i in range(n_persons)], dtype=object)[::-1].copy()  # not sorted
    position = {person: i for i, person in enumerate(persons.tolist())}
    wanted = np.array([f"P{i}" for i in ids], dtype=object)
    expected = [position.get(person, -1) for person in wanted.tolist()]
    assert person_codes(persons, wanted).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(picks=SIZES.flatmap(lambda n: st.lists(st.integers(0, len(PAIRS) + 1), min_size=n, max_size=n)))
def test_bucket_codes_equal_a_dict_lookup(picks: list[int]) -> None:
    unknown = [("basic", "no_such_bucket"), ("no_such_layer", PAIRS[0][1])]
    pairs = [(PAIRS + unknown)[i] for i in picks]
    ledger = _ledger(pairs, ["P"] * len(pairs), [2024] * len(pairs), [1] * len(pairs))
    keys = bucket_keys(DEMO)
    assert bucket_codes(ledger, DEMO).tolist() == [keys.get(pair, -1) for pair in pairs]


@pytest.mark.parametrize("entries", [3, 3 * SMALL])
def test_check_names_the_unknown_buckets_and_returns_the_codes(entries: int) -> None:
    good = _ledger(PAIRS[:1] * entries, ["P"] * entries, [2024] * entries, [5] * entries)
    assert good.check(DEMO).tolist() == [0] * entries
    bad = _ledger([*PAIRS[:1] * (entries - 1), ("basic", "nope")], ["P"] * entries, [2024] * entries, [5] * entries)
    with pytest.raises(AccumulatorError, match=r"unknown layer/bucket \[\('basic', 'nope'\)\] for policy demo"):
        bad.check(DEMO)


YEARS = st.sampled_from([2024, 2025])
ENTRY = st.tuples(st.integers(0, 5), YEARS, st.integers(0, len(PAIRS) - 1), st.integers(0, 10**9))
"""An opening entry: person (index), year, bucket (code), amount."""


@settings(max_examples=40, deadline=None)
@given(entries=st.lists(ENTRY, max_size=2 * SMALL, unique_by=lambda e: e[:3]), person_years=st.booleans())
def test_openings_by_segment_equal_a_loop(entries: list[tuple[int, int, int, int]], person_years: bool) -> None:
    """Each opening entry lands on the segment of its person-year, in ledger order; others nowhere
    (found in one pass for person-years, or layer by layer)."""
    persons = "ABCDEF"
    years = np.tile([2024, 2024, 2025, 2024], (len(DEMO.policy.layers), 1))  # every layer on calendar years
    segments = Segments(np.array([0, 1, 1, 3]), years, years, np.array(list("ABCD"), object), person_years)
    segment_of = {("A", 2024): 0, ("B", 2024): 1, ("B", 2025): 2, ("D", 2024): 3}
    pairs, who = [PAIRS[e[2]] for e in entries], [persons[e[0]] for e in entries]
    ledger = _ledger(pairs, who, [e[1] for e in entries], [e[3] for e in entries])
    grouped = Openings.located(ledger, ledger.check(DEMO), segments, DEMO.stack.bucket_offset).by_segment()
    for segment in range(4):
        expected = [
            (code, amount, amount * 2, amount % 7)
            for person, year, code, amount in entries
            if segment_of.get((persons[person], year)) == segment
        ]
        at = slice(grouped.start[segment], grouped.start[segment + 1])
        found = zip(grouped.bucket[at].tolist(), *grouped.amounts[:, at].tolist(), strict=True)
        assert list(found) == expected
    assert grouped.start[-1] == len(grouped.bucket) == grouped.amounts.shape[1]


def test_a_large_year_split_in_two_equals_one_batch() -> None:
    """Hundreds of persons and thousands of opening entries: the hashed lookups, not the small ones."""
    frame = claims_frame(6_000, 400, seed=3)
    whole = settle(frame, DEMO)
    early = frame["settle_date"] < "2025-03-01"
    first = settle(frame[early].reset_index(drop=True), DEMO)
    opening = first.closing()
    assert len(opening) > 4 * SMALL
    assert opening["person_id"].nunique() > SMALL
    second = settle(frame[~early].reset_index(drop=True), DEMO, opening)
    parts = pd.concat([first.frame(), second.frame()]).set_index("claim_id").sort_index()
    assert parts.equals(whole.frame().set_index("claim_id").sort_index())
    closing = second.closing().reset_index(drop=True)
    assert closing.equals(whole.closing().reset_index(drop=True))


def test_one_claim_adding_to_more_buckets_than_layers_keeps_every_entry() -> None:
    """A Beijing general-outpatient claim alone (the service's one-claim batch): its deductible
    bucket counts the claim, the shared cap bucket (``cap_bucket``) the payment, and two more layers
    pay — four entries from one row of three layers. The scan's buffer once held n·L = 3 of them:
    the fourth was written past its end and its segment read back as garbage."""
    beijing = compile_policy(load_policy("beijing"))
    row = {"claim_id": "X", "person_id": "P", "category": "dibao", "med_type": "11", "hospital_level": "3",
           "settle_date": "2025-03-01", "diagnosis": "J18.9", "accident": "0", "medfee_sumamt": "20000",
           "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0"}  # fmt: skip
    result = settle(pd.DataFrame([row]), beijing)
    closing = result.closing()
    assert len(closing) == 4 > len(beijing.layers)
    assert set(closing["person_id"]) == {"P"}
    paid = closing.groupby("layer")["paid_cum"].sum().to_dict()
    frame = result.frame().iloc[0]
    assert paid == {"basic": frame["hifp_pay"], "critical_illness": frame["hifmi_pay"], "assistance": frame["maf_pay"]}
