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
from settlement.schedule import Groups, banded, capped
from tiers.tables import ADMISSIONS, LayerTable

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SortedBatch:
    """The batch in settlement order (person, date, claim_id); ``segment`` = person-year."""

    profile: I64
    version: I64
    category: I64
    level: I64
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
    rule: I64
    term: I64  # table index t (version, rule, category, level)
    admission: I64  # 0 first claim of the bucket-year, 1 repeat
    base: I64
    cum_before: I64
    cum_after: I64
    deductible: I64
    raw: I64
    cap: I64
    paid: I64
    paid_before: I64

    @property
    def deductible_applied(self) -> I64:
        """起付线 actually borne by this claim: the part of its base below the deductible."""
        return np.minimum(self.cum_after, self.deductible) - np.minimum(self.cum_before, self.deductible)


@dataclass(frozen=True)
class BucketTotals:
    """Per person-year segment: what this batch added to one bucket's accumulators."""

    segment: I64
    base: I64
    paid: I64
    claims: I64


def _bands(table: LayerTable, term: I64, admission: I64) -> tuple[I64, I64, I64]:
    k = np.arange(table.n_bands, dtype=np.int64)
    at = (term * ADMISSIONS + admission)[:, None] * table.n_bands + k
    return table.band_lo[at], table.band_hi[at], table.ratio[term[:, None] * table.n_bands + k]


def _cumulative_base(table: LayerTable, rule: I64, base: I64, groups: Groups, opening: I64) -> tuple[I64, I64]:
    per_year = table.per_year[rule]
    if not per_year.any():
        return np.zeros_like(base), base
    after = groups.cumsum(base) + opening[groups.gid]
    before = np.where(per_year, after - base, 0)
    return before, before + base


def settle_bucket(
    table: LayerTable, bucket: int, rows: I64, batch: SortedBatch, residual: I64, opening: Opening
) -> tuple[BucketTrace, BucketTotals]:
    """Settle the ``rows`` (sorted-batch positions) that fall in ``bucket`` of ``table``."""
    groups = Groups.of(batch.segment[rows])
    segment = batch.segment[rows][groups.starts]
    rule = table.rule_of_profile[batch.profile[rows]]
    admission = ((groups.rank() + opening.claims[segment][groups.gid]) > 0).astype(np.int64)
    term = table.flat_index(batch.version[rows], rule, batch.category[rows], batch.level[rows])
    base = residual[rows]
    before, after = _cumulative_base(table, rule, base, groups, opening.base[segment])
    raw = round_half_up(banded(*_bands(table, term, admission), before, after))
    cap = table.cap[term]
    paid = capped(raw, cap, groups, opening.paid[segment])
    paid_before = groups.cumsum(paid) - paid + opening.paid[segment][groups.gid]
    deductible = table.deductible[term * ADMISSIONS + admission]
    trace = BucketTrace(bucket, rows, rule, term, admission, base, before, after, deductible, raw, cap, paid, paid_before)
    totals = BucketTotals(segment, groups.sums(base), groups.sums(paid), np.diff(np.append(groups.starts, len(rows))))
    return trace, totals


def bucket_rows(table: LayerTable, profile: I64) -> list[I64]:
    """Sorted-batch positions of each bucket's rows (claims no rule of the layer matches: none)."""
    rule = table.rule_of_profile[profile]
    bucket = np.where(rule >= 0, table.bucket_of_rule[np.maximum(rule, 0)], -1)
    return [np.flatnonzero(bucket == b) for b in range(len(table.buckets))]
