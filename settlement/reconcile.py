"""Reconciliation (对账): our settlements against an insurer's or fund's payout records.

Both sides are keyed by the settlement id (or any unique key) and carry money columns in int64
fen and a reversal flag. Every key gets one outcome — ``matched``, ``amount_differs`` (one
report row per differing field, both values), ``only_ours``, ``only_theirs`` or
``reversed_one_side`` — plus totals per field and a pass/fail verdict. Vectorised: keys are
factorised once into integer codes and joined by array lookups, never row by row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from settlement.engine import output_money
from tiers.codes import PAYMENT_COLUMNS

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
OUTCOMES = ("matched", "amount_differs", "only_ours", "only_theirs", "reversed_one_side")
FIELDS = ("medfee_sumamt", *output_money(PAYMENT_COLUMNS))
"""Money columns that can be compared (the engine's output names; map other names onto them)."""


class ReconcileError(ValueError):
    """Inputs that cannot be reconciled (duplicate keys, nothing to compare)."""


@dataclass(frozen=True)
class Side:
    """One side's records: unique keys (strings), a reversal flag and money columns (fen), row-aligned."""

    name: str
    key: pd.Series | npt.NDArray[np.object_]
    reversed: Bools
    money: dict[str, I64]

    def keys(self) -> pa.Array:
        keys = pa.array(self.key, type=pa.string())
        return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def _check_unique(side: Side, codes: I64) -> None:
    """Refuse a side whose keys repeat, naming a few."""
    counts = np.bincount(codes)
    repeated = counts[codes] > 1
    if repeated.any():
        examples = list(dict.fromkeys(side.keys().filter(pa.array(repeated)).to_pylist()))[:5]
        shown = ", ".join(str(k) for k in examples)
        raise ReconcileError(f"{side.name}: {int((counts > 1).sum()):,} duplicate key(s), e.g. {shown}")


@dataclass(frozen=True)
class Reconciliation:
    """The per-row report, counts per outcome (one per key), totals per field, the verdict."""

    report: pd.DataFrame  # key, outcome, field, ours, theirs (fen; <NA> where absent), note
    counts: dict[str, int]
    totals: pd.DataFrame  # field, ours, theirs, difference (fen)

    @property
    def passed(self) -> bool:
        differences = bool((self.totals["difference"] != 0).any())
        return not differences and all(n == 0 for outcome, n in self.counts.items() if outcome != "matched")

    def summary_line(self) -> str:
        parts = ", ".join(f"{outcome} {self.counts[outcome]:,}" for outcome in OUTCOMES)
        return f"{'PASS' if self.passed else 'FAIL'}: {sum(self.counts.values()):,} keys — {parts}"


def _codes(ours: Side, theirs: Side) -> tuple[I64, I64, pa.Array, pa.Array]:
    """Integer codes of both sides' keys in one dictionary (Arrow's hash encoding), and the keys."""
    mine, other = ours.keys(), theirs.keys()
    encoded = pc.dictionary_encode(pa.concat_arrays([mine, other])).indices.to_numpy().astype(np.int64)
    return encoded[: len(mine)], encoded[len(mine) :], mine, other


def _positions(ours_code: I64, theirs_code: I64) -> tuple[I64, I64]:
    """For each of our rows its row in theirs (-1: none), and the same the other way."""
    n = int(max(ours_code.max(initial=-1), theirs_code.max(initial=-1))) + 1
    row_in_theirs = np.full(n, -1, np.int64)
    row_in_theirs[theirs_code] = np.arange(len(theirs_code))
    row_in_ours = np.full(n, -1, np.int64)
    row_in_ours[ours_code] = np.arange(len(ours_code))
    return row_in_theirs[ours_code], row_in_ours[theirs_code]


def _rows(
    keys: pa.Array, rows: I64, outcome: str, field: str, ours: I64 | None, theirs: I64 | None, note: object = ""
) -> pd.DataFrame:
    """Report rows for ``rows`` of one side (``keys``): an outcome, a field and both values (fen)."""
    missing = pd.array(np.zeros(len(rows), np.int64), dtype="Int64")
    missing[:] = pd.NA
    return pd.DataFrame(
        {
            "key": keys.take(pa.array(rows, type=pa.int64())).to_pandas(types_mapper=pd.ArrowDtype),
            "outcome": outcome,
            "field": field,
            "ours": missing if ours is None else pd.array(ours, dtype="Int64"),
            "theirs": missing if theirs is None else pd.array(theirs, dtype="Int64"),
            "note": note,
        }
    )


def reconcile(ours: Side, theirs: Side, fields: tuple[str, ...]) -> Reconciliation:
    """Match ``theirs`` to ``ours`` by key and compare ``fields`` (see the module docstring)."""
    if not fields:
        raise ReconcileError("no money column to compare: the files share none of " + ", ".join(FIELDS))
    ours_code, theirs_code, mine_keys, their_keys = _codes(ours, theirs)
    _check_unique(ours, ours_code)
    _check_unique(theirs, theirs_code)
    mine, other = _positions(ours_code, theirs_code)
    both = np.flatnonzero(mine >= 0)
    partner = mine[both]
    flipped = ours.reversed[both] != theirs.reversed[partner]
    differs = {f: ours.money[f][both] != theirs.money[f][partner] for f in fields}
    any_difference = np.logical_or.reduce(list(differs.values())) & ~flipped
    note = np.where(ours.reversed[both[flipped]], "reversed in ours only", "reversed in theirs only")
    parts = [
        _rows(mine_keys, both[~flipped & ~any_difference], "matched", "", None, None),
        _rows(mine_keys, both[flipped], "reversed_one_side", "", None, None, note),
    ]
    for f, bad in differs.items():
        keep = bad & ~flipped
        parts.append(
            _rows(mine_keys, both[keep], "amount_differs", f, ours.money[f][both[keep]], theirs.money[f][partner[keep]])
        )
    only_ours, only_theirs = np.flatnonzero(mine < 0), np.flatnonzero(other < 0)
    parts.append(_rows(mine_keys, only_ours, "only_ours", "", None, None))
    parts.append(_rows(their_keys, only_theirs, "only_theirs", "", None, None))
    counts = {
        "matched": int((~flipped & ~any_difference).sum()),
        "amount_differs": int(any_difference.sum()),
        "only_ours": len(only_ours),
        "only_theirs": len(only_theirs),
        "reversed_one_side": int(flipped.sum()),
    }
    return Reconciliation(pd.concat(parts, ignore_index=True), counts, _totals(ours, theirs, fields))


def _totals(ours: Side, theirs: Side, fields: tuple[str, ...]) -> pd.DataFrame:
    mine = [int(ours.money[f].sum()) for f in fields]
    other = [int(theirs.money[f].sum()) for f in fields]
    return pd.DataFrame(
        {"field": list(fields), "ours": mine, "theirs": other, "difference": np.subtract(mine, other, dtype=np.int64)}
    )
