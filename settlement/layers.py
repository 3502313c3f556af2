"""One layer bucket over a sorted batch: settled by one scan, explained by running it again.

For every cap bucket of a layer the rows of that bucket are taken out (order kept) and
settled as in ``design.md`` §2 by :func:`settlement.scan.scan_bucket`. Settling keeps only
what the accumulators need (:class:`BucketTotals`); :func:`trace_bucket` re-runs the same scan
keeping every claim's detail (:class:`BucketTrace`) when an explanation is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from settlement.scan import GROUP_FIELDS, ROW_FIELDS, Residual, scan_bucket
from tiers.tables import ADMISSIONS, LayerTable

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BucketTotals:
    """What one bucket added, per person-year touched (``rows`` index the sorted batch)."""

    bucket: int
    rows: I64
    segment: I64
    base_added: I64
    paid_added: I64
    claims: I64


@dataclass(frozen=True)
class BucketTrace:
    """What each claim's payment in one bucket was made of (``rows`` index the sorted batch).

    ``detail`` is the scan's matrix, a row per :data:`settlement.scan.ROW_FIELDS`: the claim's
    term index t (version, rule, category, level), admission (0 first claim of the bucket-year,
    1 repeat), running base before and after it (0 and the base under a per-claim deductible),
    payment before the cap, payment, and what the bucket had paid this person-year before it.
    """

    table: LayerTable
    bucket: int
    rows: I64
    detail: I64  # [len(ROW_FIELDS), len(rows)]

    def _field(self, name: str) -> I64:
        values: I64 = self.detail[ROW_FIELDS.index(name)]
        return values

    @property
    def term(self) -> I64:
        return self._field("term")

    @property
    def admission(self) -> I64:
        return self._field("admission")

    @property
    def cum_before(self) -> I64:
        return self._field("before")

    @property
    def cum_after(self) -> I64:
        return self._field("after")

    @property
    def raw(self) -> I64:
        return self._field("raw")

    @property
    def paid(self) -> I64:
        return self._field("paid")

    @property
    def paid_before(self) -> I64:
        return self._field("paid_before")

    @property
    def base(self) -> I64:
        """The claim's base: what the earlier layers left of its in-policy amount."""
        return self.cum_after - self.cum_before

    @property
    def deductible(self) -> I64:
        """The claim's deductible (起付线), per claim or on the running base."""
        deductible: I64 = self.table.deductible[self.term * ADMISSIONS + self.admission]
        return deductible

    @property
    def cap(self) -> I64:
        """The claim's cap (封顶线) in force, NO_LIMIT where none."""
        return self.table.cap[self.term]

    @property
    def deductible_applied(self) -> I64:
        """起付线 actually borne by this claim: the part of its base below the deductible."""
        return np.minimum(self.cum_after, self.deductible) - np.minimum(self.cum_before, self.deductible)


def settle_bucket(table: LayerTable, bucket: int, rows: I64, batch: Residual, opening: I64) -> BucketTotals:
    """Settle the ``rows`` of ``bucket`` into ``batch``; ``opening`` is [base, paid, claims] × segments."""
    scanned = scan_bucket(table, rows, batch, opening)
    return BucketTotals(bucket, rows, **dict(zip(GROUP_FIELDS, scanned.groups, strict=True)))


def trace_bucket(table: LayerTable, bucket: int, rows: I64, batch: Residual, opening: I64) -> BucketTrace:
    """The same settlement as :func:`settle_bucket`, keeping every row's detail."""
    return settle_and_trace(table, bucket, rows, batch, opening)[1]


def settle_and_trace(
    table: LayerTable, bucket: int, rows: I64, batch: Residual, opening: I64
) -> tuple[BucketTotals, BucketTrace]:
    """:func:`settle_bucket` and :func:`trace_bucket` in one scan (an explanation asked for up front)."""
    scanned = scan_bucket(table, rows, batch, opening, detail=True)
    totals = BucketTotals(bucket, rows, **dict(zip(GROUP_FIELDS, scanned.groups, strict=True)))
    return totals, BucketTrace(table, bucket, rows, scanned.rows)
