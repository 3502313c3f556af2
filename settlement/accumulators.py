"""Year-to-date accumulators (累计信息): what each person has used of each bucket in a year.

One row per (person_id, year, layer, bucket) with ``base_cum`` (cumulative base of the bucket,
fen), ``paid_cum`` (cumulative payments, fen) and ``claims`` (claims settled in the bucket).
Closing = opening + what the batch added; rows the batch did not touch are carried unchanged,
so a closing table can be the next batch's opening table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiers.tables import CompiledPolicy

I64 = npt.NDArray[np.int64]
KEY = ["person_id", "year", "layer", "bucket"]
COLUMNS = [*KEY, "base_cum", "paid_cum", "claims"]


class AccumulatorError(ValueError):
    """A malformed opening accumulator table."""


def empty() -> pd.DataFrame:
    """An accumulator table with no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in COLUMNS})
    return frame.astype({"person_id": "string", "layer": "string", "bucket": "string"})


def check(frame: pd.DataFrame, policy: CompiledPolicy) -> pd.DataFrame:
    """Validate an accumulator table against ``policy``; returns it with canonical dtypes."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise AccumulatorError(f"accumulators: missing column(s) {missing}")
    frame = frame[COLUMNS].astype({"person_id": "string", "layer": "string", "bucket": "string"})
    known = {(la.id, b) for la in policy.layers for b in la.buckets}
    pairs = set(zip(frame["layer"], frame["bucket"], strict=True))
    if pairs - known:
        raise AccumulatorError(f"accumulators: unknown layer/bucket {sorted(pairs - known)} for policy {policy.id}")
    if frame.duplicated(KEY).any():
        row = frame[frame.duplicated(KEY)].iloc[0]
        raise AccumulatorError(f"accumulators: duplicate row for {tuple(row[KEY])}")
    if (frame[["base_cum", "paid_cum", "claims"]] < 0).any().any():
        raise AccumulatorError("accumulators: negative base_cum, paid_cum or claims")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Segments:
    """The batch's person-years, in sorted order: person code and calendar year."""

    person: I64
    year: I64
    persons: npt.NDArray[np.object_]

    def locate(self, person_id: pd.Series, year: pd.Series) -> I64:
        """Segment of each (person_id, year), or -1 when the batch has no claim there."""
        if len(person_id) == 0 or len(self.person) == 0:
            return np.full(len(person_id), -1, np.int64)
        code = pd.Index(self.persons).get_indexer(pd.Index(person_id.astype(object))).astype(np.int64)
        lo, span = int(self.year.min()), int(self.year.max() - self.year.min()) + 1
        years = year.to_numpy(np.int64)
        known = (code >= 0) & (years >= lo) & (years < lo + span)
        key = np.where(known, code * span + (years - lo), -1)
        seg_key = self.person * span + (self.year - lo)
        pos = np.minimum(np.searchsorted(seg_key, key), len(seg_key) - 1)
        return np.where(known & (seg_key[pos] == key), pos, -1)


def opening_for(frame: pd.DataFrame, segment: I64, n_segments: int, layer: str, bucket: str) -> I64:
    """Opening accumulators of one bucket as a [base, paid, claims] × segments array.

    ``segment`` is :meth:`Segments.locate` of every row of ``frame``.
    """
    opening = np.zeros((3, n_segments), np.int64)
    if len(frame) == 0:
        return opening
    hit = (segment >= 0) & (frame["layer"] == layer).to_numpy(bool) & (frame["bucket"] == bucket).to_numpy(bool)
    for i, column in enumerate(("base_cum", "paid_cum", "claims")):
        opening[i, segment[hit]] = frame[column].to_numpy(np.int64)[hit]
    return opening


Added = dict[tuple[str, str], tuple[I64, I64, I64, I64]]
"""(layer, bucket) → (segment, base added, payments added, claims) per touched person-year."""


def closing(opening: pd.DataFrame, added: Added, segments: Segments) -> pd.DataFrame:
    """Opening plus what the batch added, one row per (person, year, layer, bucket)."""
    parts = [opening]
    for (layer, bucket), (segment, base, paid, claims) in added.items():
        parts.append(
            pd.DataFrame(
                {
                    "person_id": pd.array(segments.persons[segments.person[segment]], dtype="string"),
                    "year": segments.year[segment],
                    "layer": layer,
                    "bucket": bucket,
                    "base_cum": base,
                    "paid_cum": paid,
                    "claims": claims,
                }
            )
        )
    merged = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else empty()
    summed = merged.groupby(KEY, sort=True, as_index=False)[["base_cum", "paid_cum", "claims"]].sum()
    return summed.astype({"person_id": "string", "layer": "string", "bucket": "string"})[COLUMNS]
