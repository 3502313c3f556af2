"""The compiled per-bucket scan: cumulative base, banded schedule, rounding and cap in one pass.

The rows of one cap bucket — sorted by person-year, in settlement order inside it — are
walked once (numba, ``nopython``). Per person-year the running base and running payment start
at the opening accumulators. For each row of term ``t``:

- ``before``/``after``: the running base before and after the claim (an annual deductible and
  the bands apply to it), or ``0``/``base`` for a per-claim deductible;
- ``raw = round_half_up(Σ_k ratio_k · |[lo_k, lo_k + w_k) ∩ [before, after)|)``, exact in
  1/10,000 fen (the deductible is the start of the first band);
- ``paid = min(raw, max(cap_t − paid_before, 0))``: a claim never takes back earlier payments,
  even when its own cap is lower than an earlier claim's.

This is the formula of ``design.md`` §2 written as the loop it is. It replaced NumPy passes
(grouped cumulative sums and a fixed-point cap clip, in git history before 2026-11-23) because
``benchmarks/test_engine.py`` measured it faster; the property tests check it against the
Decimal oracle (``tests/oracle.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from tiers.tables import ADMISSIONS, RATIO_SCALE, LayerTable

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

ROW_FIELDS = ("term", "admission", "before", "after", "raw", "paid", "paid_before")
GROUP_FIELDS = ("segment", "base_added", "paid_added", "claims")
_HALF = RATIO_SCALE // 2
EPOCH_YEAR = 1970


@dataclass(frozen=True)
class Scanned:
    """Per person-year touched (:data:`GROUP_FIELDS`), and on request per row (:data:`ROW_FIELDS`)."""

    groups: I64  # [len(GROUP_FIELDS), g]
    rows: I64  # [len(ROW_FIELDS), n], or [len(ROW_FIELDS), 0] without detail


@dataclass(frozen=True)
class Residual:
    """What a layer works on and writes, in sorted order: the in-policy amount still unpaid, the
    layer's payment of each row and the deductible (起付线) each row bore."""

    segment: I64
    profile: I64
    residual: I64  # updated in place: minus this layer's payments
    paid: I64  # written in place
    deductible_applied: I64  # written in place

    def for_next_layer(self) -> Residual:
        """The same batch with fresh payment arrays (the residual carries on)."""
        n = len(self.residual)
        return Residual(self.segment, self.profile, self.residual, np.zeros(n, np.int64), np.zeros(n, np.int64))


@numba.njit(cache=True, nogil=True)
def _scan(
    rows: I64,
    segment_of: I64,
    profile_of: I64,
    residual: I64,
    layer_paid: I64,
    applied: I64,
    term_of_profile: I64,
    opening: I64,
    per_year: Bools,
    has_repeat: bool,
    deductible: I64,
    band_lo: I64,
    band_width: I64,
    ratio: I64,
    cap: I64,
    groups: I64,
    detail: bool,
    out: I64,
) -> int:
    g = -1
    running_base = running_paid = previous = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        seg = segment_of[r]
        first = i == 0 or seg != previous
        previous = seg
        if first:
            g += 1
            running_base, running_paid = opening[0, seg], opening[1, seg]
            groups[0, g], groups[1, g], groups[2, g], groups[3, g] = seg, 0, 0, 0
        t = term_of_profile[profile_of[r]]
        base = residual[r]
        repeat = 1 if has_repeat and (not first or opening[2, seg] > 0) else 0
        before = running_base if per_year[t] else 0
        after = before + base
        at = t * ADMISSIONS + repeat
        scaled = 0
        for k in range(band_lo.shape[0]):
            lo, width = band_lo[k, at], band_width[k, at]
            scaled += (min(max(after - lo, 0), width) - min(max(before - lo, 0), width)) * ratio[k, t]
        raw = (scaled + _HALF) // RATIO_SCALE
        paid = min(raw, max(cap[t] - running_paid, 0))
        if detail:
            out[0, i], out[1, i], out[2, i], out[3, i] = t, repeat, before, after
            out[4, i], out[5, i], out[6, i] = raw, paid, running_paid
        running_base += base
        running_paid += paid
        groups[1, g] += base
        groups[2, g] += paid
        groups[3, g] += 1
        residual[r] = base - paid
        layer_paid[r] = paid
        applied[r] = min(after, deductible[at]) - min(before, deductible[at])
    return g + 1


def scan_bucket(table: LayerTable, rows: I64, batch: Residual, opening: I64, *, detail: bool = False) -> Scanned:
    """Settle one bucket's ``rows`` (positions in the sorted batch) in one compiled pass.

    ``opening`` is [base, paid, claims] × segments. ``batch.residual``, ``batch.paid`` and
    ``batch.deductible_applied`` are updated for these rows; ``detail`` also keeps every row's
    :data:`ROW_FIELDS` (for the explanation).
    """
    out = np.empty((len(ROW_FIELDS), len(rows) if detail else 0), np.int64)
    groups = np.empty((len(GROUP_FIELDS), len(rows)), np.int64)
    n_groups = _scan(
        rows,
        batch.segment,
        batch.profile,
        batch.residual,
        batch.paid,
        batch.deductible_applied,
        table.term_of_profile,
        opening,
        table.per_year,
        table.has_repeat,
        table.deductible,
        table.band_lo,
        table.band_width,
        table.ratio,
        table.cap,
        groups,
        detail,
        out,
    )
    return Scanned(groups[:, :n_groups], out)


@numba.njit(cache=True, nogil=True)
def _gather(
    keys: I64,
    rank_bits: int,
    day_bits: int,
    codes: I64,
    position_of_rank: I64,
    year_of_day: I64,
    profile: I64,
    inscp: I64,
    out: I64,
    segments: I64,
) -> int:
    s = -1
    last_person = last_year = -1
    for i in range(keys.shape[0]):
        j = position_of_rank[keys[i] & ((1 << rank_bits) - 1)]
        code = keys[i] >> rank_bits
        if codes.shape[0]:
            code = codes[code]
        person, year = code >> day_bits, year_of_day[code & ((1 << day_bits) - 1)]
        if i == 0 or person != last_person or year != last_year:
            s += 1
            segments[0, s], segments[1, s] = person, year
            last_person, last_year = person, year
        out[0, i], out[1, i], out[2, i], out[3, i] = j, s, profile[j], inscp[j]
    return s + 1


@dataclass(frozen=True)
class PackedKeys:
    """int64 keys ``person-day << rank_bits | claim_rank`` that sort into settlement order.

    A person-day is ``person << day_bits | day offset``; where those would not fit, they are
    renumbered densely and ``codes`` maps the dense number back (empty otherwise).
    """

    keys: I64
    rank_bits: int
    day_bits: int
    codes: I64

    @classmethod
    def of(cls, person: I64, day_offset: I64, claim_rank: I64, max_bits: int = 62) -> PackedKeys:
        rank_bits = max(len(person) - 1, 1).bit_length()
        day_bits = max(int(day_offset.max()), 1).bit_length()
        code = (person << day_bits) | day_offset
        if int(person.max()).bit_length() + day_bits + rank_bits <= max_bits:
            return cls((code << rank_bits) | claim_rank, rank_bits, day_bits, np.zeros(0, np.int64))
        codes, dense = np.unique(code, return_inverse=True)
        return cls((dense.astype(np.int64) << rank_bits) | claim_rank, rank_bits, day_bits, codes.astype(np.int64))


def sorted_batch(
    person: I64, day: I64, claim_rank: I64, profile: I64, inscp: I64, max_bits: int = 62
) -> tuple[I64, Residual, I64]:
    """The batch in settlement order (person, settle_date, claim_id).

    Returns the input position of each sorted row; the sorted rows' person-year segment, dated
    profile and in-policy amount (the first layer's residual); and the [person, year] ×
    segments table. One ``np.sort`` of packed int64 keys (~3× faster than an argsort), decoded
    with shifts in one compiled pass; ``max_bits`` is the room in a key (lowered by tests to
    take the dense-renumbering path).
    """
    n = len(person)
    out = np.empty((4, n), np.int64)
    segments = np.empty((2, n), np.int64)
    fresh = np.zeros(n, np.int64)
    if n == 0:
        return out[0], Residual(out[1], out[2], out[3], fresh, fresh.copy()), segments
    first = int(day.min())
    packed = PackedKeys.of(person, day - first, claim_rank, max_bits)
    span = np.arange(first, first + (1 << packed.day_bits), dtype=np.int64).astype("datetime64[D]")
    year_of_day = span.astype("datetime64[Y]").astype(np.int64) + EPOCH_YEAR
    keys = np.sort(packed.keys)
    position_of_rank = np.empty(n, np.int64)
    position_of_rank[claim_rank] = np.arange(n, dtype=np.int64)
    fields = (packed.rank_bits, packed.day_bits, packed.codes, position_of_rank, year_of_day)
    n_segments = _gather(keys, *fields, profile, inscp, out, segments)
    return out[0], Residual(out[1], out[2], out[3], fresh, fresh.copy()), segments[:, :n_segments]


@numba.njit(cache=True, nogil=True)
def _split(bucket: I64, n_buckets: int, rows: I64, ends: I64) -> None:
    for b in bucket:
        if b >= 0:
            ends[b] += 1
    start = 0
    for b in range(n_buckets):
        ends[b], start = start, start + ends[b]
    for i in range(bucket.shape[0]):
        b = bucket[i]
        if b >= 0:
            rows[ends[b]] = i
            ends[b] += 1


def bucket_rows(table: LayerTable, profile: I64) -> list[I64]:
    """Sorted-batch positions of each bucket's rows, ascending (claims no rule matches: none)."""
    bucket = table.bucket_of_profile[profile]
    rows = np.empty(len(bucket), np.int64)
    ends = np.zeros(len(table.buckets), np.int64)
    _split(bucket, len(table.buckets), rows, ends)
    starts = np.concatenate(([0], ends[:-1]))
    return [rows[s:e] for s, e in zip(starts, ends, strict=True)]
