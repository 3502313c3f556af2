"""What each claim's payment in one layer bucket was made of, from the scan's detail.

:func:`settlement.scan.scan_layers` keeps every row's :data:`~settlement.scan.ROW_FIELDS` per
layer when asked (an explanation); :func:`layer_traces` splits one layer's by bucket into
:class:`BucketTrace`, whose properties name what the explanation shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from settlement.scan import ROW_FIELDS
from tiers.tables import ADMISSIONS, LayerTable

I64 = npt.NDArray[np.int64]


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


def layer_traces(table: LayerTable, first_code: int, codes: I64, detail: I64) -> list[BucketTrace]:
    """One layer's detail split by bucket: ``detail`` is its [:data:`ROW_FIELDS`, n] over the
    sorted batch, ``codes`` each row's bucket code in it (-1: no rule of the layer matched),
    ``first_code`` the code of the layer's first bucket."""
    traces = []
    for b in range(len(table.buckets)):
        rows = np.flatnonzero(codes == first_code + b)
        if len(rows):
            traces.append(BucketTrace(table, b, rows, detail[:, rows]))
    return traces
