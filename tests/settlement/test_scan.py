"""The compiled passes: settlement order (packed and dense keys) and the explanation's re-scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.engine import settle
from settlement.explanation import explain
from settlement.scan import sorted_batch
from tests.helpers import claims_frame
from tests.settlement.test_properties import claim_rows
from tiers.loader import load_policy

DEMO = load_policy("demo")


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(19_000, 21_000)), min_size=1, max_size=60), st.booleans())
def test_order_is_person_day_claim_for_packed_and_dense_keys(rows: list[tuple[int, int]], dense: bool) -> None:
    person = np.array([p for p, _ in rows], np.int64)
    day = np.array([d for _, d in rows], np.int64)
    claim_rank = np.random.default_rng(len(rows)).permutation(len(rows)).astype(np.int64)
    inscp = np.arange(len(rows), dtype=np.int64) * 7
    none = np.zeros(0, np.int64)
    order, batch, segments = sorted_batch(person, day, claim_rank, inscp, inscp, none, 2, max_bits=8 if dense else 62)
    expected = np.lexsort((claim_rank, day, person))
    assert order.tolist() == expected.tolist()
    assert batch.inscp.tolist() == inscp[expected].tolist()
    years = day[expected].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    person_years = list(zip(person[expected].tolist(), years.tolist(), strict=True))
    pairs = list(dict.fromkeys(person_years))
    assert list(zip(segments.person.tolist(), segments.first_period[0].tolist(), strict=True)) == pairs
    assert [pairs[s] for s in batch.segment.tolist()] == person_years
    assert segments.first_period.shape == (1, len(pairs))  # one period (the year) for every layer
    assert (segments.first_period == segments.last_period).all()
    assert batch.slot.tolist() == [[0], [0]]  # a person-year: each layer's one period


@settings(max_examples=60, deadline=None)
@given(claim_rows())
def test_explanation_rescan_equals_the_payments(rows: list[dict[str, object]]) -> None:
    """The explanation settles each layer again in detail; it must show exactly what was paid."""
    frame = claims_frame(rows)
    result = settle(frame, DEMO)
    detail = explain(result)
    for layer in result.layers:
        paid = detail[detail.layer == layer.table_id].set_index("claim_id")["paid"]
        expected = dict(zip(result.claims.claim_id, result.payments[layer.output].tolist(), strict=True))
        assert paid.to_dict() == expected
    basic = detail[detail.layer == "basic"].set_index("claim_id")["deductible_applied"]
    assert basic.to_dict() == dict(zip(result.claims.claim_id, result.act_pay_dedc.tolist(), strict=True))


@settings(max_examples=60, deadline=None)
@given(claim_rows())
def test_explanation_kept_while_settling_equals_the_rescan(rows: list[dict[str, object]]) -> None:
    """``settle(explain=True)`` (the real-time path) keeps the detail of the one scan: same table,
    also when the batch continues from opening accumulators (the later half of the rows)."""
    cut = len(rows) // 2
    opening = settle(claims_frame(rows[:cut]), DEMO).closing() if cut else None
    frame = claims_frame(rows[cut:])
    kept, rescanned = settle(frame, DEMO, opening, explain=True), settle(frame, DEMO, opening)
    assert kept.scanned.detail is not None
    assert rescanned.scanned.detail is None
    assert kept.frame().equals(rescanned.frame())
    pd.testing.assert_frame_equal(explain(kept), explain(rescanned))
