"""Year-to-date accumulators (累计信息): what each person has used of each bucket in a year.

One entry per (person_id, year, layer, bucket) with ``base_cum`` (cumulative base of the bucket,
fen), ``paid_cum`` (cumulative payments, fen) and ``claims`` (claims settled in the bucket).
Closing = opening + what the batch added; entries the batch did not touch are carried unchanged,
so a closing table can be the next batch's opening table. Inside the engine they are arrays
(:class:`Ledger`); a DataFrame with :data:`COLUMNS` is the file format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

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
        ledger.check(policy)
        return ledger

    def check(self, policy: CompiledPolicy) -> None:
        """Refuse unknown layer/bucket pairs and negative amounts."""
        known = {(la.id, b) for la in policy.layers for b in la.buckets}
        pairs = set(zip(self.layer.tolist(), self.bucket.tolist(), strict=True))
        if pairs - known:
            raise AccumulatorError(f"accumulators: unknown layer/bucket {sorted(pairs - known)} for policy {policy.id}")
        if any(bool((getattr(self, c) < 0).any()) for c in AMOUNTS):
            raise AccumulatorError("accumulators: negative base_cum, paid_cum or claims")

    def frame(self) -> pd.DataFrame:
        """The file format: :data:`COLUMNS`, string keys, int64 amounts."""
        frame = pd.DataFrame({c: getattr(self, c) for c in COLUMNS})
        return frame.astype({"person_id": "string", "year": "int64", "layer": "string", "bucket": "string"})


def empty() -> pd.DataFrame:
    """An accumulator table with no rows."""
    return Ledger.empty().frame()


@dataclass(frozen=True)
class Segments:
    """The batch's person-years, in sorted order: person code and calendar year."""

    person: I64
    year: I64
    persons: Objects

    def locate(self, person_id: Objects, year: I64) -> I64:
        """Segment of each (person_id, year), or -1 when the batch has no claim there."""
        if len(person_id) == 0 or len(self.person) == 0:
            return np.full(len(person_id), -1, np.int64)
        code = person_codes(self.persons, person_id)
        lo, span = int(self.year.min()), int(self.year.max() - self.year.min()) + 1
        known = (code >= 0) & (year >= lo) & (year < lo + span)
        key = np.where(known, code * span + (year - lo), -1)
        seg_key = self.person * span + (self.year - lo)
        pos = np.minimum(np.searchsorted(seg_key, key), len(seg_key) - 1)
        return np.where(known & (seg_key[pos] == key), pos, -1)


SMALL = 64
"""Up to this many persons a sorted search finds them faster than a hash index (pandas builds
one in ~0.2 ms; measured: 8 persons 23 µs sorted vs 160 µs hashed, 256 persons 459 vs 282 µs)."""


def person_codes(persons: Objects, person_id: Objects) -> I64:
    """Position of each ``person_id`` in ``persons`` (distinct), -1 where it is not there."""
    if len(persons) > SMALL:
        found: I64 = pd.Index(persons, dtype=object).get_indexer(pd.Index(person_id, dtype=object)).astype(np.int64)
        return found
    order = np.argsort(persons, kind="stable")
    ranked = persons[order]
    at = np.minimum(np.searchsorted(ranked, person_id), len(ranked) - 1)
    codes: I64 = np.where(ranked[at] == person_id, order[at], -1).astype(np.int64)
    return codes


def opening_for(ledger: Ledger, segment: I64, n_segments: int, layer: str, bucket: str) -> I64:
    """Opening accumulators of one bucket as a [base, paid, claims] × segments array.

    ``segment`` is :meth:`Segments.locate` of every entry of ``ledger``.
    """
    opening = np.zeros((3, n_segments), np.int64)
    if len(ledger) == 0:
        return opening
    hit = (segment >= 0) & (ledger.layer == layer) & (ledger.bucket == bucket)
    for i, column in enumerate(AMOUNTS):
        opening[i, segment[hit]] = getattr(ledger, column)[hit]
    return opening


Added = dict[tuple[str, str], tuple[I64, I64, I64, I64]]
"""(layer, bucket) → (segment, base added, payments added, claims) per touched person-year."""


def delta(added: Added, segments: Segments) -> Ledger:
    """What a batch added, as ledger entries (one per touched person-year and bucket)."""
    if not added:
        return Ledger.empty()
    keys = list(added)
    segment, base, paid, claims = (np.concatenate([values[i] for values in added.values()]) for i in range(4))
    counts = [len(values[0]) for values in added.values()]
    return Ledger(
        person_id=segments.persons[segments.person[segment]],
        year=segments.year[segment],
        layer=np.repeat(np.array([k[0] for k in keys], dtype=object), counts),
        bucket=np.repeat(np.array([k[1] for k in keys], dtype=object), counts),
        base_cum=base,
        paid_cum=paid,
        claims=claims,
    )


def closing(opening: Ledger, added: Ledger) -> pd.DataFrame:
    """Opening plus what the batch added, one row per (person, year, layer, bucket), sorted."""
    merged = pd.concat([opening.frame(), added.frame()], ignore_index=True)
    summed = merged.groupby(KEY, sort=True, as_index=False)[AMOUNTS].sum()
    return summed.astype({"person_id": "string", "layer": "string", "bucket": "string"})[COLUMNS]
