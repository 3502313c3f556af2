"""Array primitives against obviously correct loops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.schedule import Groups, capped
from tiers.tables import NO_LIMIT


def _slow_capped(raw: list[int], cap: list[int], keys: list[int], opening: dict[int, int]) -> list[int]:
    paid, out = dict(opening), []
    for r, c, k in zip(raw, cap, keys, strict=True):
        before = paid.get(k, 0)
        pay = min(r, max(c - before, 0))
        paid[k] = before + pay
        out.append(pay)
    return out


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 500), st.sampled_from([0, 100, 250, 400, 900, int(NO_LIMIT)])),
        min_size=1,
        max_size=40,
    ),
    opening=st.lists(st.integers(0, 600), min_size=4, max_size=4),
)
def test_capped_equals_running_loop(data: list[tuple[int, int, int]], opening: list[int]) -> None:
    data = sorted(data, key=lambda t: t[0])  # grouped, order within a group kept
    keys = np.array([k for k, _, _ in data], dtype=np.int64)
    raw = np.array([r for _, r, _ in data], dtype=np.int64)
    cap = np.array([c for _, _, c in data], dtype=np.int64)
    groups = Groups.of(keys)
    group_opening = np.array([opening[k] for k in keys[groups.starts]], dtype=np.int64)
    got = capped(raw, cap, groups, group_opening).tolist()
    assert got == _slow_capped(raw.tolist(), cap.tolist(), keys.tolist(), dict(enumerate(opening)))


@given(keys=st.lists(st.integers(0, 5), max_size=30).map(sorted), values=st.data())
def test_group_cumsum_and_cummax(keys: list[int], values: st.DataObject) -> None:
    xs = values.draw(st.lists(st.integers(0, 10**12), min_size=len(keys), max_size=len(keys)))
    groups = Groups.of(np.array(keys, dtype=np.int64))
    arr = np.array(xs, dtype=np.int64)
    running_sum: dict[int, int] = {}
    running_max: dict[int, int] = {}
    expected_sum: list[int] = []
    expected_max: list[int] = []
    for k, x in zip(keys, xs, strict=True):
        running_sum[k] = running_sum.get(k, 0) + x
        running_max[k] = max(running_max.get(k, 0), x)
        expected_sum.append(running_sum[k])
        expected_max.append(running_max[k])
    assert groups.cumsum(arr).tolist() == expected_sum
    assert groups.cummax(arr).tolist() == expected_max
