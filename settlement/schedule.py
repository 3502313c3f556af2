"""Small pure array primitives: groups of sorted rows, grouped sums, banded schedules, caps.

Everything works on int64 arrays already sorted by group (person-year), in settlement order
inside a group. Money in fen; ratios in 1/10,000; "scaled" amounts in 1/10,000 fen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tiers.tables import NO_LIMIT

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Groups:
    """Contiguous groups of a sorted array: ``starts`` of each group, ``gid`` of each row."""

    starts: I64
    gid: I64

    @classmethod
    def of(cls, keys: I64) -> Groups:
        """Groups of equal consecutive ``keys``.

        >>> Groups.of(np.array([4, 4, 7, 9, 9, 9])).starts.tolist()
        [0, 2, 3]
        """
        if len(keys) == 0:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))
        new = np.empty(len(keys), dtype=bool)
        new[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        return cls(np.flatnonzero(new), np.cumsum(new, dtype=np.int64) - 1)

    def cumsum(self, values: I64) -> I64:
        """Inclusive running sum within each group.

        >>> Groups.of(np.array([1, 1, 2, 2, 2])).cumsum(np.array([5, 1, 2, 3, 4])).tolist()
        [5, 6, 2, 5, 9]
        """
        total = np.cumsum(values)
        if len(values) == 0:
            return total
        before = total[self.starts] - values[self.starts]
        return total - before[self.gid]

    def sums(self, values: I64) -> I64:
        """Total of each group.

        >>> Groups.of(np.array([1, 1, 2])).sums(np.array([5, 1, 2])).tolist()
        [6, 2]
        """
        if len(values) == 0:
            return np.zeros(0, np.int64)
        return np.add.reduceat(values, self.starts).astype(np.int64)

    def previous(self, values: I64, first: I64) -> I64:
        """Each row's predecessor in its group; ``first[g]`` for a group's first row.

        >>> Groups.of(np.array([1, 1, 2])).previous(np.array([5, 6, 7]), np.array([0, 9])).tolist()
        [0, 5, 9]
        """
        out = np.empty_like(values)
        if len(values):
            out[1:] = values[:-1]
            out[self.starts] = first
        return out

    def cummax(self, values: I64) -> I64:
        """Running maximum within each group, for ``values ≥ 0``.

        >>> Groups.of(np.array([1, 1, 1, 2, 2])).cummax(np.array([3, 1, 4, 0, 2])).tolist()
        [3, 3, 4, 0, 2]
        """
        if len(values) == 0:
            return values.copy()
        # Lift each group above all earlier ones, so one global running max never crosses groups.
        height = np.maximum.reduceat(values, self.starts) + 1
        lift = np.cumsum(height) - height
        lifted: I64 = np.maximum.accumulate(values + lift[self.gid])
        result: I64 = lifted - lift[self.gid]
        return result


def banded_share(lo: I64, width: I64, c0: I64 | int, c1: I64) -> I64:
    """|[lo, lo + width) ∩ [c0, c1)|: how much of a claim's step from c0 to c1 falls in a band.

    A layer's payment before rounding is Σ_k ratio_k × share_k (exact, in 1/10,000 fen).

    >>> banded_share(np.array([100, 100]), np.array([400, 400]), np.array([0, 450]), np.array([600, 700])).tolist()
    [400, 50]
    >>> banded_share(np.array([100]), np.array([NO_LIMIT]), 0, np.array([301])).tolist()
    [201]
    """
    share: I64 = _clip_between(c1 - lo, width)
    if isinstance(c0, np.ndarray):
        share -= _clip_between(c0 - lo, width)
    return share


def _clip_between(x: I64, width: I64) -> I64:
    """min(max(x, 0), width), in place on the temporary ``x``."""
    np.maximum(x, 0, out=x)
    np.minimum(x, width, out=x)
    return x


def capped(raw: I64, cap: I64, groups: Groups, opening: I64) -> I64:
    """Clip each payment so the group's cumulative payments stay within the claim's cap.

    ``paid_i = min(raw_i, max(cap_i − paid_before_i, 0))`` with ``paid_before`` starting at
    ``opening[g]``; a claim never takes back earlier payments, even when its own cap is lower.
    Groups whose running total never passes a cap pay ``raw`` as it is; the others are solved
    by :func:`_clip_running`.

    >>> g = Groups.of(np.array([0, 0, 0]))
    >>> capped(np.array([60, 60, 60]), np.array([100, 100, 200]), g, np.array([0])).tolist()
    [60, 40, 60]
    >>> capped(np.array([50, 50, 50]), np.array([300, 100, 300]), g, np.array([60])).tolist()
    [50, 0, 50]
    """
    if len(raw) == 0 or bool((cap >= NO_LIMIT).all()):
        return raw.copy()
    running = groups.cumsum(raw) + (opening[groups.gid] if opening.any() else 0)
    over = running > cap
    if not over.any():
        return raw.copy()
    hit = np.zeros(len(groups.starts), dtype=bool)
    hit[groups.gid[over]] = True
    rows = np.flatnonzero(hit[groups.gid])
    sub = Groups.of(groups.gid[rows])
    paid = raw.copy()
    paid[rows] = _clip_running(running[rows], cap[rows], sub, opening[hit])
    return paid


def _clip_running(running: I64, cap: I64, groups: Groups, opening: I64) -> I64:
    """Payments from running raw totals (opening included) under per-claim caps.

    Closed form: with ``c'_i = max(cap_i, P_{i−1})``, ``P_i = R_i − max(0, max_{j≤i}(R_j − c'_j))``.
    Where a cap drops below what is already paid, ``c'`` depends on ``P``: iterate to the
    unique fixed point (``c'`` only grows, so this ends; once or twice in practice).
    """
    effective = cap
    while True:
        paid_to_date = running - groups.cummax(np.maximum(running - effective, 0))
        before = groups.previous(paid_to_date, opening)
        widened = np.maximum(cap, before)
        if np.array_equal(widened, effective):
            return paid_to_date - before
        effective = widened
