"""Year-to-date accumulators (累计信息): what each person has used of each bucket in a year.

One entry per (person_id, year, layer, bucket) — ``year`` the layer's accumulation period, known by
the year it starts in (the calendar year unless the layer declares another start,
:mod:`settlement.periods`) — with ``base_cum`` (cumulative base of the bucket,
fen), ``paid_cum`` (cumulative payments, fen) and ``claims`` (claims settled in the bucket).
Closing = opening + what the batch added; entries the batch did not touch are carried unchanged,
so a closing table can be the next batch's opening table. Inside the engine they are arrays
(:class:`Ledger`); a DataFrame with :data:`COLUMNS` is the file format. A batch finds its
opening entries once (:class:`Openings`: each entry's segment in the batch and bucket code) and
hands them to the scan grouped by segment (:class:`OpeningEntries`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tiers.tables import CompiledPolicy

I64 = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]
KEY = ["person_id", "year", "layer", "bucket"]
AMOUNTS = ["base_cum", "paid_cum", "claims"]
COLUMNS = [*KEY, *AMOUNTS]


class AccumulatorError(ValueError):
    """A malformed opening accumulator table."""


@dataclass(frozen=True)
class Ledger:
    """Accumulator entries as arrays, one element per (person_id, year, layer, bucket)."""

    person_id: Objects
    year: I64
    layer: Objects
    bucket: Objects
    base_cum: I64
    paid_cum: I64
    claims: I64

    def __len__(self) -> int:
        return len(self.year)

    @classmethod
    def empty(cls) -> Ledger:
        none = np.zeros(0, np.int64)
        return cls(none.astype(object), none, none.astype(object), none.astype(object), none, none, none)

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, policy: CompiledPolicy) -> Ledger:
        """A checked ledger from a table with :data:`COLUMNS` (fen ints)."""
        return cls.checked_frame(frame, policy)[0]

    @classmethod
    def checked_frame(cls, frame: pd.DataFrame, policy: CompiledPolicy) -> tuple[Ledger, I64]:
        """:meth:`of_frame`, and each entry's bucket code (:meth:`check`)."""
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise AccumulatorError(f"accumulators: missing column(s) {missing}")
        if frame.duplicated(KEY).any():
            row = frame[frame.duplicated(KEY)].iloc[0]
            raise AccumulatorError(f"accumulators: duplicate row for {tuple(row[KEY])}")
        ledger = cls(
            person_id=frame["person_id"].astype(str).to_numpy(object),
            year=frame["year"].to_numpy(np.int64),
            layer=frame["layer"].astype(str).to_numpy(object),
            bucket=frame["bucket"].astype(str).to_numpy(object),
            base_cum=frame["base_cum"].to_numpy(np.int64),
            paid_cum=frame["paid_cum"].to_numpy(np.int64),
            claims=frame["claims"].to_numpy(np.int64),
        )
        return ledger, ledger.check(policy)

    def check(self, policy: CompiledPolicy) -> I64:
        """Refuse unknown layer/bucket pairs and negative amounts; each entry's bucket code
        (:func:`bucket_codes`)."""
        codes = bucket_codes(self, policy)
        unknown = codes < 0
        if unknown.any():
            pairs = sorted(set(zip(self.layer[unknown].tolist(), self.bucket[unknown].tolist(), strict=True)))
            raise AccumulatorError(f"accumulators: unknown layer/bucket {pairs} for policy {policy.id}")
        if any(bool((getattr(self, c) < 0).any()) for c in AMOUNTS):
            raise AccumulatorError("accumulators: negative base_cum, paid_cum or claims")
        return codes

    def frame(self) -> pd.DataFrame:
        """The file format: :data:`COLUMNS`, string keys, int64 amounts."""
        frame = pd.DataFrame({c: getattr(self, c) for c in COLUMNS})
        return frame.astype({"person_id": "string", "year": "int64", "layer": "string", "bucket": "string"})


def empty() -> pd.DataFrame:
    """An accumulator table with no rows."""
    return Ledger.empty().frame()


@dataclass(frozen=True)
class Segments:
    """The batch's segments (person-years, or persons where a layer's accumulation period is not
    the calendar year; :func:`settlement.scan.sorted_batch`), in sorted order: person code and each
    layer's first and last period among the segment's claims (``[L, S]``, by the year each
    period starts in)."""

    person: I64
    first_period: I64  # [L, S], or [1, S] with person_years
    last_period: I64  # as first_period
    persons: Objects
    person_years: bool = False  # every layer's period is the segment's (calendar) year

    def period_of(self, layer: I64, segment: I64) -> I64:
        """The first period of each (layer, segment)."""
        periods: I64 = self.first_period[0, segment] if self.person_years else self.first_period[layer, segment]
        return periods

    def locate(self, person_id: Objects, year: I64, layer: I64) -> tuple[I64, I64]:
        """The segment and slot of each (person_id, ``year``: a period of its ``layer``; unused for
        person-years), or -1 when no claim of the batch is in that period."""
        if len(person_id) == 0 or len(self.person) == 0:
            return np.full(len(person_id), -1, np.int64), np.full(len(person_id), -1, np.int64)
        code = person_codes(self.persons, person_id)
        if self.person_years:  # one pass: every layer's period is the segment's year
            segment = _containing(self.person, self.first_period[0], self.last_period[0], code, year)
            return segment, np.minimum(segment, 0)
        segment = np.full(len(person_id), -1, np.int64)
        slot = np.full(len(person_id), -1, np.int64)
        for la in range(len(self.first_period)):  # a few layers
            mine = np.flatnonzero(layer == la)
            if len(mine):
                segment[mine] = _containing(
                    self.person, self.first_period[la], self.last_period[la], code[mine], year[mine]
                )
        hit = np.flatnonzero(segment >= 0)
        slot[hit] = year[hit] - self.first_period[layer[hit], segment[hit]]
        return segment, slot


def _containing(person: I64, first: I64, last: I64, code: I64, year: I64) -> I64:
    """The segment of each (person code, period) — the last segment of the person starting at or
    before it, if it lasts that long — or -1. Segments are sorted by person, then time."""
    lo = min(int(first.min()), int(year.min()))
    span = max(int(last.max()), int(year.max())) - lo + 1
    seg_key = person * span + (first - lo)
    pos = np.searchsorted(seg_key, code * span + (year - lo), side="right") - 1
    at = np.maximum(pos, 0)
    inside = (code >= 0) & (pos >= 0) & (person[at] == code) & (year <= last[at])
    return np.where(inside, pos, -1).astype(np.int64)


SMALL = 64
"""Up to this many persons (or entries) a sorted search or a dict finds them faster than a hash
table built for the call (where the two cross: ``benchmarks/README.md``)."""


def person_codes(persons: Objects, person_id: Objects) -> I64:
    """Position of each ``person_id`` in ``persons`` (distinct), -1 where it is not there."""
    if len(persons) > SMALL:
        # Arrow's hash lookup: 1 M ids in 200,000 persons ~0.4 s, pandas' get_indexer ~0.95 s
        strings = pa.array(persons, type=pa.string())
        found = pc.index_in(pa.array(person_id, type=pa.string()), value_set=strings)
        positions: I64 = found.fill_null(-1).to_numpy().astype(np.int64)
        return positions
    if len(persons) == 0:
        return np.full(len(person_id), -1, np.int64)
    order = np.argsort(persons, kind="stable")
    ranked = persons[order]
    at = np.minimum(np.searchsorted(ranked, person_id), len(ranked) - 1)
    codes: I64 = np.where(ranked[at] == person_id, order[at], -1).astype(np.int64)
    return codes


def bucket_keys(policy: CompiledPolicy) -> dict[tuple[str, str], int]:
    """The policy's (layer, bucket) pairs, numbered in layer order: the bucket codes (as the
    scan numbers them, :attr:`tiers.tables.LayerStack.buckets`)."""
    return {pair: code for code, pair in enumerate(policy.stack.buckets)}


def bucket_codes(ledger: Ledger, policy: CompiledPolicy) -> I64:
    """Each entry's (layer, bucket) as its code in :func:`bucket_keys`, -1 where the policy has
    no such bucket: the few distinct names are factorised once, not compared per bucket."""
    keys = bucket_keys(policy)
    if len(ledger) <= SMALL:
        pairs = zip(ledger.layer.tolist(), ledger.bucket.tolist(), strict=True)
        return np.array([keys.get(pair, -1) for pair in pairs], dtype=np.int64)
    layer_code, layers = pd.factorize(ledger.layer)
    bucket_code, buckets = pd.factorize(ledger.bucket)
    code_of = np.array([[keys.get((la, b), -1) for b in buckets] for la in layers], dtype=np.int64)
    codes: I64 = code_of.reshape(len(layers), len(buckets))[layer_code, bucket_code]
    return codes


@dataclass(frozen=True)
class OpeningEntries:
    """Opening accumulators by segment, for the scan: segment ``s``'s entries are
    ``start[s]:start[s+1]``, each a bucket code and its [base, paid, claims]."""

    start: I64  # [segments + 1]
    bucket: I64  # [m]
    slot: I64  # [m] the entry's period among its segment's
    amounts: I64  # [3, m]


@dataclass(frozen=True)
class Openings:
    """A batch's opening accumulators, located: each ledger entry's segment in the batch (-1:
    none of the batch's segments) and bucket code (:func:`bucket_codes`)."""

    ledger: Ledger
    segment: I64
    slot: I64
    bucket: I64
    n_segments: int

    @classmethod
    def located(cls, ledger: Ledger, bucket: I64, segments: Segments, bucket_offset: I64) -> Openings:
        """``ledger`` (``bucket``: its :func:`bucket_codes`) placed on a batch's ``segments``: each
        entry in the segment and slot of its person and layer period (``bucket_offset``: the
        layers' first bucket codes)."""
        layer = bucket if segments.person_years else np.searchsorted(bucket_offset, bucket, side="right") - 1
        segment, slot = segments.locate(ledger.person_id, ledger.year, layer.astype(np.int64))
        return cls(ledger, segment, slot, bucket, len(segments.person))

    def by_segment(self) -> OpeningEntries:
        """The entries of the batch's segments, grouped by segment (a stable sort)."""
        hit = np.flatnonzero(self.segment >= 0)
        hit = hit[np.argsort(self.segment[hit], kind="stable")]
        start = np.zeros(self.n_segments + 1, np.int64)
        np.cumsum(np.bincount(self.segment[hit], minlength=self.n_segments), out=start[1:])
        amounts = np.vstack([getattr(self.ledger, column)[hit] for column in AMOUNTS]).astype(np.int64)
        return OpeningEntries(start, self.bucket[hit], self.slot[hit], amounts)


ADDED = ("bucket", "segment", "slot", "base_added", "paid_added", "claims")
"""The rows of what a batch added: a column per touched segment, bucket code and slot."""


def delta(added: I64, segments: Segments, policy: CompiledPolicy) -> Ledger:
    """What a batch added (:data:`ADDED` × entries), as ledger entries ordered by bucket code,
    then segment."""
    added = added[:, np.argsort(added[0], kind="stable")]
    code, segment = added[0], added[1]
    names = np.array(policy.stack.buckets, dtype=object).reshape(-1, 2)
    layer = np.searchsorted(policy.stack.bucket_offset, code, side="right") - 1
    return Ledger(
        person_id=segments.persons[segments.person[segment]],
        year=segments.period_of(layer, segment) + added[2],
        layer=names[code, 0],
        bucket=names[code, 1],
        base_cum=added[3],
        paid_cum=added[4],
        claims=added[5],
    )


def closing(opening: Ledger, added: Ledger) -> pd.DataFrame:
    """Opening plus what the batch added, one row per (person, year, layer, bucket), sorted."""
    merged = pd.concat([opening.frame(), added.frame()], ignore_index=True)
    summed = merged.groupby(KEY, sort=True, as_index=False)[AMOUNTS].sum()
    return summed.astype({"person_id": "string", "layer": "string", "bucket": "string"})[COLUMNS]
