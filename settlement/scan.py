"""The compiled passes: settlement order, then every layer and bucket in one scan.

The batch, sorted by person-year and in settlement order inside it, is walked once (numba,
``nopython``); each row goes through the layers in policy order, each on what the earlier
layers left of its in-policy amount. In the bucket its rule names, a layer's running base
and running payment start, per person-year, at the opening accumulators. For a row of term
``t``:

- ``before``/``after``: the running base before and after the claim (an annual deductible and
  the bands apply to it), or ``0``/``base`` for a per-claim deductible;
- ``raw = round_half_up(Σ_k ratio_k · |[lo_k, lo_k + w_k) ∩ [before, after)|)``, exact in
  1/10,000 fen (the deductible is the start of the first band);
- ``paid = min(raw, max(cap_t − paid_before, 0))``: a claim never takes back earlier payments,
  even when its own cap is lower than an earlier claim's.

This is the formula of ``design.md`` §2 written as the loop it is. It replaced NumPy passes
(grouped cumulative sums and a fixed-point cap clip, in git history before 2026-11-23), then
one scan per bucket over that bucket's rows (before 2026-12-02), because
``benchmarks/test_engine.py`` measured it faster; the property tests check it against the
Decimal oracle (``tests/oracle.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from settlement.accumulators import ADDED, OpeningEntries
from tiers.tables import ADMISSIONS, RATIO_SCALE, LayerStack

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

ROW_FIELDS = ("term", "admission", "before", "after", "raw", "paid", "paid_before")
_HALF = RATIO_SCALE // 2
EPOCH_YEAR = 1970


@dataclass(frozen=True)
class SortedBatch:
    """The batch in settlement order: each row's person-year segment, dated profile and in-policy
    amount (what the first layer works on)."""

    segment: I64
    profile: I64
    inscp: I64


@dataclass(frozen=True)
class Scanned:
    """Every layer's payments and deductibles borne (``[L, n]``, sorted order); what each bucket
    added per person-year touched (``added``: a row per :data:`ADDED`, by segment then
    bucket code); on request every row's :data:`ROW_FIELDS` per layer (``[L, fields, n]``)."""

    paid: I64
    deductible_applied: I64
    added: I64
    detail: I64 | None


@numba.njit(cache=True, nogil=True)
def _scan(
    batch: tuple[I64, I64, I64],
    lookups: tuple[I64, I64, I64, Bools, I64],
    terms: tuple[Bools, I64, I64, I64, I64, I64],
    opening: tuple[I64, I64, I64],
    n_codes: int,
    paid_out: I64,
    applied_out: I64,
    added_out: I64,
    detail: bool,
    out: I64,
) -> int:
    segment_of, profile_of, inscp = batch
    term_of_profile, bucket_of_profile, term_offset, has_repeat, n_bands = lookups
    per_year, deductible, band_lo, band_width, ratio, cap = terms
    open_start, open_bucket, open_amounts = opening
    # per bucket code, in the current person-year: running base and payments (opening included),
    # what this batch added, and claims before the batch and in it
    running_base, running_paid = np.zeros(n_codes, np.int64), np.zeros(n_codes, np.int64)
    base_added, paid_added = np.zeros(n_codes, np.int64), np.zeros(n_codes, np.int64)
    claims_before, claims = np.zeros(n_codes, np.int64), np.zeros(n_codes, np.int64)
    n_out, seg = 0, -1
    for i in range(inscp.shape[0] + 1):
        if i == inscp.shape[0] or segment_of[i] != seg:
            for c in range(n_codes):  # close the person-year: what each bucket touched added
                if claims[c]:
                    added_out[0, n_out], added_out[1, n_out], added_out[2, n_out] = c, seg, base_added[c]
                    added_out[3, n_out], added_out[4, n_out] = paid_added[c], claims[c]
                    n_out += 1
                running_base[c] = running_paid[c] = base_added[c] = paid_added[c] = claims_before[c] = claims[c] = 0
            if i == inscp.shape[0]:
                break
            seg = segment_of[i]
            for e in range(open_start[seg], open_start[seg + 1]):  # open the next from its entries
                c = open_bucket[e]
                running_base[c], running_paid[c], claims_before[c] = open_amounts[:, e]
        p, base = profile_of[i], inscp[i]
        for la in range(term_of_profile.shape[0]):
            c = bucket_of_profile[la, p]
            if c < 0:
                continue
            local = term_of_profile[la, p]
            t = term_offset[la] + local
            paid_before = running_paid[c]
            repeat = 1 if has_repeat[la] and (claims[c] > 0 or claims_before[c] > 0) else 0
            before = running_base[c] if per_year[t] else 0
            after = before + base
            at = t * ADMISSIONS + repeat
            scaled = 0
            for k in range(n_bands[la]):
                lo, width = band_lo[k, at], band_width[k, at]
                scaled += (min(max(after - lo, 0), width) - min(max(before - lo, 0), width)) * ratio[k, t]
            raw = (scaled + _HALF) // RATIO_SCALE
            paid = min(raw, max(cap[t] - paid_before, 0))
            if detail:
                out[la, 0, i], out[la, 1, i], out[la, 2, i], out[la, 3, i] = local, repeat, before, after
                out[la, 4, i], out[la, 5, i], out[la, 6, i] = raw, paid, paid_before
            running_base[c] += base
            running_paid[c] += paid
            base_added[c] += base
            paid_added[c] += paid
            claims[c] += 1
            paid_out[la, i] = paid
            applied_out[la, i] = min(after, deductible[at]) - min(before, deductible[at])
            base -= paid
    return n_out


def scan_layers(stack: LayerStack, batch: SortedBatch, opening: OpeningEntries, *, detail: bool = False) -> Scanned:
    """Settle every layer of the sorted batch in one compiled pass (``design.md`` §2).

    Row by row in settlement order, each layer in policy order works on what the earlier
    layers left of the row's in-policy amount, in the bucket its rule names, from that
    bucket's running base and payments in the row's person-year (starting at ``opening``).
    ``detail`` also keeps every row's :data:`ROW_FIELDS` per layer (for the explanation).
    """
    n_layers, n = len(stack.term_offset), len(batch.inscp)
    paid, applied = np.zeros((n_layers, n), np.int64), np.zeros((n_layers, n), np.int64)
    n_segments, n_codes = len(opening.start) - 1, int(stack.bucket_offset[-1])
    added = np.empty((len(ADDED), min(n * n_layers, n_segments * n_codes)), np.int64)  # at most
    out = np.zeros((n_layers, len(ROW_FIELDS), n if detail else 0), np.int64)
    n_added = _scan(
        (batch.segment, batch.profile, batch.inscp),
        (stack.term_of_profile, stack.bucket_of_profile, stack.term_offset, stack.has_repeat, stack.n_bands),
        (stack.per_year, stack.deductible, stack.band_lo, stack.band_width, stack.ratio, stack.cap),
        (opening.start, opening.bucket, opening.amounts),
        n_codes,
        paid,
        applied,
        added,
        detail,
        out,
    )
    return Scanned(paid, applied, added[:, :n_added], out if detail else None)


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
) -> tuple[I64, SortedBatch, I64]:
    """The batch in settlement order (person, settle_date, claim_id).

    Returns the input position of each sorted row; the sorted rows' person-year segment, dated
    profile and in-policy amount; and the [person, year] ×
    segments table. One ``np.sort`` of packed int64 keys (~3× faster than an argsort), decoded
    with shifts in one compiled pass; ``max_bits`` is the room in a key (lowered by tests to
    take the dense-renumbering path).
    """
    n = len(person)
    out = np.empty((4, n), np.int64)
    segments = np.empty((2, n), np.int64)
    if n == 0:
        return out[0], SortedBatch(out[1], out[2], out[3]), segments
    first = int(day.min())
    packed = PackedKeys.of(person, day - first, claim_rank, max_bits)
    span = np.arange(first, first + (1 << packed.day_bits), dtype=np.int64).astype("datetime64[D]")
    year_of_day = span.astype("datetime64[Y]").astype(np.int64) + EPOCH_YEAR
    keys = np.sort(packed.keys)
    position_of_rank = np.empty(n, np.int64)
    position_of_rank[claim_rank] = np.arange(n, dtype=np.int64)
    fields = (packed.rank_bits, packed.day_bits, packed.codes, position_of_rank, year_of_day)
    n_segments = _gather(keys, *fields, profile, inscp, out, segments)
    return out[0], SortedBatch(out[1], out[2], out[3]), segments[:, :n_segments]
