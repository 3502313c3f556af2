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
    """What each claim's payment in one bucket was made of (``rows`` index the sorted batch)."""

    table: LayerTable
    bucket: int
    rows: I64
    term: I64  # table index t (version, rule, category, level)
    admission: I64  # 0 first claim of the bucket-year, 1 repeat
    cum_before: I64  # running base before the claim (0 under a per-claim deductible)
    cum_after: I64  # … and after it
    raw: I64  # payment before the cap
    paid: I64
    paid_before: I64  # what the bucket had paid this person-year before the claim

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
    per_row = dict(zip(ROW_FIELDS, scanned.rows, strict=True))
    totals = BucketTotals(bucket, rows, **dict(zip(GROUP_FIELDS, scanned.groups, strict=True)))
    trace = BucketTrace(
        table=table,
        bucket=bucket,
        rows=rows,
        term=per_row["term"],
        admission=per_row["admission"],
        cum_before=per_row["before"],
        cum_after=per_row["after"],
        raw=per_row["raw"],
        paid=per_row["paid"],
        paid_before=per_row["paid_before"],
    )
    return totals, trace
