"""One layer of the cascade over a sorted batch: rule lookup, cumulative base, bands, caps.

For every cap bucket of the layer the rows of that bucket are taken out (order kept), grouped
by person-year, and settled as in ``design.md`` §2: ``raw_i = round(F_i(C_i) − F_i(C_{i−1}))``
on the cumulative base ``C`` (or on the claim alone for a per-claim deductible), then the
cumulative payment is clipped to the claim's cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from settlement.money import round_half_up
from settlement.schedule import Groups, banded_share, capped
from tiers.tables import ADMISSIONS, LayerTable

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SortedBatch:
    """The batch in settlement order (person, date, claim_id).

    ``profile`` is the dated profile (version · P + profile, see :mod:`tiers.tables`);
    ``segment`` numbers the person-years.
    """

    profile: I64
    segment: I64


@dataclass(frozen=True)
class Opening:
    """Year-to-date accumulators of one layer bucket, per segment (fen, fen, claims)."""

    base: I64
    paid: I64
    claims: I64


@dataclass(frozen=True)
class BucketTrace:
    """What one bucket did, per settled row (``rows`` index the sorted batch)."""

    bucket: int
    rows: I64
    groups: Groups  # person-years among ``rows``
    segment: I64  # segment of each group
    term: I64  # table index t (version, rule, category, level)
    admission: I64  # 0 first claim of the bucket-year, 1 repeat
    base: I64
    cum_before: I64
    cum_after: I64
    deductible: I64
    raw: I64
    cap: I64
    paid: I64
    opening_paid: I64  # per group

    @property
    def deductible_applied(self) -> I64:
        """起付线 actually borne by this claim: the part of its base below the deductible."""
        return np.minimum(self.cum_after, self.deductible) - np.minimum(self.cum_before, self.deductible)

    @property
    def paid_before(self) -> I64:
        """What the bucket had paid this person-year before each claim."""
        return self.groups.cumsum(self.paid) - self.paid + self.opening_paid[self.groups.gid]

    def totals(self) -> tuple[I64, I64, I64]:
        """Per group: base added, payments added, claims settled."""
        sizes = np.diff(np.append(self.groups.starts, len(self.rows)))
        return self.groups.sums(self.base), self.groups.sums(self.paid), sizes


def _raw(table: LayerTable, term: I64, admission: I64, before: I64 | int, after: I64) -> I64:
    """Each claim's payment before caps: bands summed exactly, then rounded once."""
    at = term * ADMISSIONS + admission
    scaled: I64 | int = 0
    for k in range(table.n_bands):
        lo = table.band_lo[k][at]
        share = banded_share(lo, table.band_width[k][at], before, after)
        scaled = scaled + share * table.ratio[k][term]
    assert isinstance(scaled, np.ndarray)
    return round_half_up(scaled)


def _per_group(values: I64, groups: Groups) -> I64 | int:
    return values[groups.gid] if values.any() else 0


def _cumulative_base(per_year: Bools, base: I64, groups: Groups, opening: I64) -> tuple[I64 | int, I64]:
    if not per_year.any():
        return 0, base
    after = groups.cumsum(base) + _per_group(opening, groups)
    if per_year.all():
        return after - base, after
    before = np.where(per_year, after - base, 0)
    return before, before + base


def settle_bucket(
    table: LayerTable, bucket: int, rows: I64, batch: SortedBatch, residual: I64, opening: Opening
) -> BucketTrace:
    """Settle the ``rows`` (sorted-batch positions) that fall in ``bucket`` of ``table``."""
    segment_of_row = batch.segment[rows]
    groups = Groups.of(segment_of_row)
    segment = segment_of_row[groups.starts]
    term = table.term_of_profile[batch.profile[rows]]
    admission = np.zeros(len(rows), np.int64)
    if table.has_repeat:
        admission[:] = 1
        admission[groups.starts] = opening.claims[segment] > 0
    base = residual[rows]
    before, after = _cumulative_base(table.per_year[term], base, groups, opening.base[segment])
    raw = _raw(table, term, admission, before, after)
    cap = table.cap[term]
    paid = capped(raw, cap, groups, opening.paid[segment])
    deductible = table.deductible[term * ADMISSIONS + admission]
    before_arr = np.broadcast_to(before, base.shape)
    return BucketTrace(
        bucket,
        rows,
        groups,
        segment,
        term,
        admission,
        base,
        before_arr,
        after,
        deductible,
        raw,
        cap,
        paid,
        opening.paid[segment],
    )


def bucket_rows(table: LayerTable, profile: I64) -> list[I64]:
    """Sorted-batch positions of each bucket's rows (claims no rule of the layer matches: none)."""
    bucket = table.bucket_of_profile[profile]
    return [np.flatnonzero(bucket == b) for b in range(len(table.buckets))]
