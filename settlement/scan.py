"""The compiled passes: settlement order, then every layer and bucket in one scan.

The batch, sorted by segment — the person-year, or where a layer's accumulation period is not the
calendar year the person (:mod:`settlement.periods`) — and in settlement order inside it, is
walked once (numba, ``nopython``); each row goes through the layers in policy order, each on what
the earlier layers left of its in-policy amount. In the bucket its rule names, in the period of the
layer holding the row's day (its **slot**: the periods of a segment numbered from its first), a
layer's running base and running payment start at the opening accumulators. For a row of term
``t``:

- ``before``/``after``: the running base before and after the claim (an annual deductible and
  the bands apply to it), or ``0``/``base`` for a per-claim deductible;
- ``raw = money.round_half_up(Σ_k ratio_k · |[lo_k, lo_k + w_k) ∩ [before, after)|)``, exact
  in 1/10,000 fen (the deductible is the start of the first band) — the one rounding of
  :mod:`settlement.money`;
- ``paid = min(raw, max(cap_t − paid_before, 0))``: a claim never takes back earlier payments,
  even when its own cap is lower than an earlier claim's.

A claim may have several **candidate** profiles (a person holding several relief identities on
its date): each is tried on the running state without changing it, and the one the funds pay
most on — the lowest personal share — is settled (就高不重复; the first candidate among equals).

This is the formula of ``design.md`` §2 written as the loop it is; the property tests check it
against the Decimal oracle (``tests/oracle.py``). Why a compiled scan: ``benchmarks/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from settlement import money
from settlement.accumulators import ADDED, OpeningEntries
from settlement.periods import years_of
from tiers.tables import ADMISSIONS, LayerStack

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

ROW_FIELDS = ("term", "admission", "before", "after", "raw", "paid", "paid_before")


class Rows(NamedTuple):
    """The batch in settlement order (``n`` rows)."""

    segment: I64  # [n] the row's segment (index into the batch's segments)
    position: I64  # [n] the row's input position
    inscp: I64  # [n] fen: in-policy amount, what the first layer works on
    profile: I64  # [n] dated profile of the row's first candidate
    n_candidates: I64  # [n] how many candidates the row's claim has (≥ 1)
    slot: I64  # [L, n] each layer's period of the row's day, numbered from its segment's first ([L, 1]: all 0)


class Candidates(NamedTuple):
    """Each claim's candidate dated profiles, by input position: claim ``j``'s are
    ``profile[start[j]:start[j+1]]`` (at least one; ties go to the first)."""

    start: I64  # [n + 1]
    profile: I64  # [m] version · profile-space size + profile (:class:`tiers.tables.ProfileSpace`)


class Tables(NamedTuple):
    """The layers' lookup tables side by side (:class:`tiers.tables.LayerStack`; T terms, K bands)."""

    term_of_profile: I64  # [L, V·P] term index within the layer, or -1
    bucket_of_profile: I64  # [L, V·P] bucket code, or -1 (no rule of the layer matches)
    cap_bucket_of_profile: I64  # [L, V·P] the bucket code whose payments the cap counts, or -1
    term_offset: I64  # [L] where the layer's terms start in the stacked term arrays
    has_repeat: Bools  # [L] a rule of the layer lowers the deductible from the 2nd claim
    n_bands: I64  # [L] the layer's real bands
    per_year: Bools  # [T] the deductible is annual: the base cumulates over the bucket-year
    deductible: I64  # [T·A] fen (A: first claim of the bucket-year / a repeat)
    band_lo: I64  # [K, T·A] fen
    band_width: I64  # [K, T·A] fen
    ratio: I64  # [K, T] 1/10,000
    cap: I64  # [T] fen (NO_LIMIT: none)
    claim_cap: I64  # [T] fen: the most one claim is paid (NO_LIMIT: none)


class Opening(NamedTuple):
    """Opening accumulators by segment: segment ``s``'s entries are ``start[s]:start[s+1]``."""

    start: I64  # [segments + 1]
    bucket: I64  # [e] bucket code
    slot: I64  # [e] the entry's period among its segment's (see Rows.slot)
    amounts: I64  # [3, e] base_cum, paid_cum (fen), claims


class Running(NamedTuple):
    """Per bucket code and slot (``[codes, slots]``), in the current segment."""

    base: I64  # fen: cumulative base, opening included
    paid: I64  # fen: cumulative payments, opening included
    base_added: I64  # fen: what this batch added to the base
    paid_added: I64  # fen: what this batch paid
    claims_before: I64  # claims before the batch (opening)
    claims: I64  # claims in the batch


class Out(NamedTuple):
    """What the scan writes (sorted order)."""

    paid: I64  # [L, n] fen: each layer's payment
    applied: I64  # [L, n] fen: the deductible each layer's payment bore
    chosen: I64  # [n] the candidate settled (0-based within the claim's candidates)
    profile: I64  # [n] its dated profile
    added: I64  # [len(ADDED), ≤ 2·n·L] per touched segment, bucket and slot: what the batch added
    detail: I64  # [L, len(ROW_FIELDS), n] when kept, else [L, len(ROW_FIELDS), 0]


@dataclass(frozen=True)
class SortedBatch:
    """The batch in settlement order: each row's segment, in-policy amount, first candidate's
    dated profile, number of candidates and slot per layer (:class:`Rows`)."""

    segment: I64
    inscp: I64
    profile: I64
    n_candidates: I64
    slot: I64  # [L, n], or [L, 1] where every row's slot is 0


@dataclass(frozen=True)
class SegmentTable:
    """The batch's segments (``S``, in sorted order): the person, and each layer's first and last
    accumulation period among the segment's rows (slot 0 is the first; person-years: one row, the
    year, for every layer)."""

    person: I64  # [S] person code
    first_period: I64  # [L, S], or [1, S] for person-years
    last_period: I64  # as first_period


@dataclass(frozen=True)
class Scanned:
    """Every layer's payments and deductibles borne (``[L, n]``, sorted order); each row's chosen
    candidate and its dated profile; what each bucket added per segment and slot touched
    (``added``: a row per :data:`ADDED`, by segment); on request every row's
    :data:`ROW_FIELDS` per layer (``[L, fields, n]``)."""

    paid: I64
    deductible_applied: I64
    chosen: I64
    profile: I64
    added: I64
    detail: I64 | None


@numba.njit(cache=True, nogil=True, inline="always")
def _through_layers(
    t: Tables, run: Running, slots: I64, p: int, base: int, i: int, out: Out, commit: bool, keep: bool
) -> int:
    """Row ``i`` of dated profile ``p`` through every layer on the running state: what the funds
    pay in all (fen). Only with ``commit`` are the state and ``out`` written."""
    total = 0
    for la in range(t.term_of_profile.shape[0]):
        c = t.bucket_of_profile[la, p]
        if c < 0:
            continue
        cc = t.cap_bucket_of_profile[la, p]  # c, unless deductibles are kept apart under one cap
        s = slots[la, i if slots.shape[1] > 1 else 0]  # the layer's period of the row's day
        local = t.term_of_profile[la, p]
        term = t.term_offset[la] + local
        paid_before = run.paid[cc, s]
        repeat = 1 if t.has_repeat[la] and (run.claims[c, s] > 0 or run.claims_before[c, s] > 0) else 0
        before = run.base[c, s] if t.per_year[term] else 0
        after = before + base
        at = term * ADMISSIONS + repeat
        scaled = 0
        for k in range(t.n_bands[la]):
            lo, width = t.band_lo[k, at], t.band_width[k, at]
            scaled += (min(max(after - lo, 0), width) - min(max(before - lo, 0), width)) * t.ratio[k, term]
        raw = money.round_half_up(scaled)
        paid = min(raw, max(t.cap[term] - paid_before, 0), t.claim_cap[term])
        if commit:
            if keep:
                out.detail[la, 0, i], out.detail[la, 1, i], out.detail[la, 2, i] = local, repeat, before
                out.detail[la, 3, i], out.detail[la, 4, i], out.detail[la, 5, i] = after, raw, paid
                out.detail[la, 6, i] = paid_before
            run.base[c, s] += base
            run.paid[cc, s] += paid
            run.base_added[c, s] += base
            run.paid_added[cc, s] += paid
            run.claims[c, s] += 1
            out.paid[la, i] = paid
            out.applied[la, i] = min(after, t.deductible[at]) - min(before, t.deductible[at])
        base -= paid
        total += paid
    return total


@numba.njit(cache=True, nogil=True)
def _close(run: Running, seg: int, out: Out, n_out: int) -> int:
    """Close a segment: what each bucket and slot it touched added goes to ``out.added``; the state
    is cleared for the next."""
    for c in range(run.base.shape[0]):
        for s in range(run.base.shape[1]):
            if run.claims[c, s] or run.paid_added[c, s]:  # a cap bucket of its own is paid into without claims
                out.added[0, n_out], out.added[1, n_out], out.added[2, n_out] = c, seg, s
                out.added[3, n_out], out.added[4, n_out] = run.base_added[c, s], run.paid_added[c, s]
                out.added[5, n_out] = run.claims[c, s]
                n_out += 1
            run.base[c, s] = run.paid[c, s] = run.base_added[c, s] = 0
            run.paid_added[c, s] = run.claims_before[c, s] = run.claims[c, s] = 0
    return n_out


@numba.njit(cache=True, nogil=True)
def _open(run: Running, seg: int, opening: Opening) -> None:
    """Open a segment from its opening entries."""
    for e in range(opening.start[seg], opening.start[seg + 1]):
        c, s = opening.bucket[e], opening.slot[e]
        run.base[c, s], run.paid[c, s], run.claims_before[c, s] = (
            opening.amounts[0, e],
            opening.amounts[1, e],
            opening.amounts[2, e],
        )


@numba.njit(cache=True, nogil=True)
def _scan(rows: Rows, candidates: Candidates, t: Tables, opening: Opening, run: Running, out: Out, keep: bool) -> int:
    """Settle the sorted rows (see the module's text); returns how many ``out.added`` entries it wrote."""
    n_out, seg = 0, -1
    for i in range(rows.inscp.shape[0]):
        if rows.segment[i] != seg:
            if seg >= 0:
                n_out = _close(run, seg, out, n_out)
            seg = rows.segment[i]
            _open(run, seg, opening)
        profile = rows.profile[i]
        if rows.n_candidates[i] > 1:  # 就高不重复: try each candidate, keep what the funds pay most on
            first = candidates.start[rows.position[i]]
            most, best = -1, first
            for k in range(first, first + rows.n_candidates[i]):
                got = _through_layers(t, run, rows.slot, candidates.profile[k], rows.inscp[i], i, out, False, False)
                if got > most:
                    most, best = got, k
            out.chosen[i], profile = best - first, candidates.profile[best]
        out.profile[i] = profile
        _through_layers(t, run, rows.slot, profile, rows.inscp[i], i, out, True, keep)
    if seg >= 0:
        n_out = _close(run, seg, out, n_out)
    return n_out


def _tables(stack: LayerStack) -> Tables:
    return Tables(*(getattr(stack, name) for name in Tables._fields))


def scan_layers(
    stack: LayerStack,
    batch: SortedBatch,
    order: I64,
    candidates: Candidates,
    opening: OpeningEntries,
    *,
    detail: bool = False,
) -> Scanned:
    """Settle every layer of the sorted batch in one compiled pass (``design.md`` §2).

    Row by row in settlement order (``order``: each sorted row's input position), each layer in
    policy order works on what the earlier layers left of the row's in-policy amount, in the
    bucket its rule names, from that bucket's running base and payments in the row's segment and
    the layer's period of its day (``batch.slot``; starting at ``opening``); of a claim's
    ``candidates`` the most favourable is settled.
    ``detail`` also keeps every row's :data:`ROW_FIELDS` per layer (for the explanation).
    """
    n_layers, n = len(stack.term_offset), len(batch.inscp)
    n_segments, n_codes = len(opening.start) - 1, int(stack.bucket_offset[-1])
    n_slots = int(batch.slot.max()) + 1 if batch.slot.size else 1
    out = Out(
        paid=np.zeros((n_layers, n), np.int64),
        applied=np.zeros((n_layers, n), np.int64),
        chosen=np.zeros(n, np.int64),
        profile=np.zeros(n, np.int64),
        # at most: a row adds to two buckets per layer (its own and a shared cap's); a segment closes
        # each bucket and slot once
        added=np.empty((len(ADDED), min(2 * n * n_layers, n_segments * n_codes * n_slots)), np.int64),
        detail=np.zeros((n_layers, len(ROW_FIELDS), n if detail else 0), np.int64),
    )
    run = Running(*(np.zeros((n_codes, n_slots), np.int64) for _ in Running._fields))
    rows = Rows(batch.segment, order, batch.inscp, batch.profile, batch.n_candidates, batch.slot)
    entries = Opening(opening.start, opening.bucket, opening.slot, opening.amounts)
    n_added = _scan(rows, candidates, _tables(stack), entries, run, out, detail)
    return Scanned(
        out.paid, out.applied, out.chosen, out.profile, out.added[:, :n_added], out.detail if detail else None
    )


@numba.njit(cache=True, nogil=True)
def _gather(keys: I64, rank_bits: int, day_bits: int, codes: I64, position_of_rank: I64, year_of_day: I64,
            inscp: I64, profile: I64, n_candidates: I64, out: I64, segments: I64) -> int:  # fmt: skip
    """Decode the sorted keys: each row's input position, segment, in-policy amount, first profile
    and number of candidates (empty ``n_candidates``: one each) into ``out`` (rows 0–4), each
    segment's [person, year (or 0: the person's whole history)] into ``segments``."""
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
        out[0, i], out[1, i], out[2, i], out[3, i] = j, s, inscp[j], profile[j]
        out[4, i] = n_candidates[j] if n_candidates.shape[0] else 1
    return s + 1


@dataclass(frozen=True)
class PackedKeys:
    """int64 keys ``person-day << rank_bits | rank`` that sort into settlement order.

    A person-day is ``person << day_bits | day offset``; where those would not fit, they are
    renumbered densely and ``codes`` maps the dense number back (empty otherwise).
    """

    keys: I64
    rank_bits: int
    day_bits: int
    codes: I64

    @classmethod
    def of(cls, person: I64, day_offset: I64, rank: I64, max_bits: int = 62) -> PackedKeys:
        rank_bits = max(len(person) - 1, 1).bit_length()
        day_bits = max(int(day_offset.max()), 1).bit_length()
        code = (person << day_bits) | day_offset
        if int(person.max()).bit_length() + day_bits + rank_bits <= max_bits:
            return cls((code << rank_bits) | rank, rank_bits, day_bits, np.zeros(0, np.int64))
        codes, dense = np.unique(code, return_inverse=True)
        return cls((dense.astype(np.int64) << rank_bits) | rank, rank_bits, day_bits, codes.astype(np.int64))


def sorted_batch(
    person: I64,
    day: I64,
    rank: I64,
    inscp: I64,
    profile: I64,
    n_candidates: I64,
    n_layers: int,
    periods: I64 | None = None,
    *,
    max_bits: int = 62,
) -> tuple[I64, SortedBatch, SegmentTable]:
    """The batch in settlement order: by person, ``day``, then ``rank`` (a permutation of
    ``0..n-1``: the claim ids' order, or the arrival order); ``inscp`` (fen), ``profile`` (the
    first candidate's dated profile), ``n_candidates`` (empty: one each) and ``periods`` (``[L,
    n]``: each of the ``n_layers`` layers' accumulation period of the claim's day) travel with
    their rows.

    A segment is a person-year (``periods`` None: every layer's period is the calendar year of
    ``day``; pass the year's first day to settle in ``rank`` order within it) or a person's whole
    batch (where a layer's period is not the calendar year, so years chain: pass one ``day`` for
    all to settle in ``rank`` order). Returns the input position of each sorted row; the
    sorted rows (segment, in-policy amount, …, each layer's slot: its period numbered from the
    segment's first); and the segments. One ``np.sort`` of packed int64 keys (~3× faster than an
    argsort), decoded with shifts in one compiled pass; ``max_bits`` is the room in a key
    (lowered by tests to take the dense-renumbering path).
    """
    n = len(person)
    out = np.empty((5, n), np.int64)
    segments = np.empty((2, n), np.int64)
    if n == 0:
        empty = np.zeros((n_layers, 0), np.int64)
        return out[0], SortedBatch(out[1], out[2], out[3], out[4], empty), SegmentTable(out[0], empty, empty)
    first = int(day.min())
    packed = PackedKeys.of(person, day - first, rank, max_bits)
    span = np.arange(first, first + (1 << packed.day_bits), dtype=np.int64)
    year_of_day = years_of(span) if periods is None else np.zeros(len(span), np.int64)
    keys = np.sort(packed.keys)
    position_of_rank = np.empty(n, np.int64)
    position_of_rank[rank] = np.arange(n, dtype=np.int64)
    fields = (packed.rank_bits, packed.day_bits, packed.codes, position_of_rank, year_of_day)
    n_segments = _gather(keys, *fields, inscp, profile, n_candidates, out, segments)
    if periods is None:  # every layer's period is the segment's year: one slot
        years = segments[1:, :n_segments]
        slot = np.zeros((n_layers, 1), np.int64)
        return (
            out[0],
            SortedBatch(out[1], out[2], out[3], out[4], slot),
            SegmentTable(segments[0, :n_segments], years, years),
        )
    label = periods[:, out[0]]
    starts = np.flatnonzero(np.r_[True, out[1, 1:] != out[1, :-1]])
    lowest, highest = np.minimum.reduceat(label, starts, axis=1), np.maximum.reduceat(label, starts, axis=1)
    batch = SortedBatch(out[1], out[2], out[3], out[4], (label - lowest[:, out[1]]).astype(np.int64))
    return out[0], batch, SegmentTable(segments[0, :n_segments], lowest, highest)
