"""Reconciliation (对账): our settlements against an insurer's or fund's payout records.

Both sides are keyed by the settlement id (or any unique key) and carry money columns in int64
fen and a reversal flag. Every key gets one outcome — ``matched``, ``amount_differs`` (one
report row per differing field, both values), ``only_ours``, ``only_theirs`` or
``reversed_one_side`` — plus totals per field and a pass/fail verdict. Vectorised: keys are
factorised once into integer codes and joined by array lookups, never row by row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", *output_money(PAYMENT_COLUMNS))
"""Money columns that can be compared (the bill's parts and the engine's output names; map other
names onto them); a region's own funds (``<name>_pay``) too, :func:`is_money_field`."""


FUND_COLUMN = re.compile(r"^[a-z][a-z0-9_]*_pay$")
"""A fund's payment column of any policy (``<name>_pay``: a region's own funds too)."""
AMOUNT = re.compile(r"^-?[0-9][0-9,]*\.[0-9]{1,2}$")


class ReconcileError(ValueError):
    """Inputs that cannot be reconciled (duplicate keys, nothing to compare, a money column
    neither compared nor excluded)."""


def is_money_field(column: str) -> bool:
    """A column reconciliation compares by name: the engine's money columns, or any fund's ``_pay``."""
    return column in FIELDS or bool(FUND_COLUMN.match(column))


def looks_like_money(cells: pd.Series) -> bool:
    """Text cells that are all amounts with decimals (``1,200.50``, ``-3.0``): a money column,
    whatever its name — a misspelt or unmapped one must not be skipped without a word."""
    text = cells.dropna().astype(str).str.strip()
    text = text[text != ""]
    return len(text) > 0 and bool(text.str.match(AMOUNT.pattern).all())


@dataclass(frozen=True)
class Columns:
    """One side's money columns: known fields, and columns that look like money under another name."""

    fields: tuple[str, ...]
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What a reconciliation compares, and every other money column with why it is not compared."""

    compared: tuple[str, ...]
    not_compared: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """``compared …; not compared …`` for the verdict line and the report."""
        skipped = ", ".join(f"{c} ({why})" for c, why in self.not_compared.items())
        return f"compared {', '.join(self.compared)}" + (f"; not compared {skipped}" if skipped else "")


def _unaccounted(ours: Columns, theirs: Columns, excluded: tuple[str, ...], asked: bool) -> list[str]:
    """Money columns neither compared nor excluded: amounts under an unknown name, and (unless the
    fields were ``asked`` for) fields on one side only."""
    problems = []
    for side, mine, other in (("ours", ours, theirs), ("theirs", theirs, ours)):
        problems += [f"{side}: column {c!r} holds amounts but is not a money field (map it or exclude it)"
                     for c in mine.unknown if c not in excluded]  # fmt: skip
        if not asked:
            problems += [f"{c}: in {side} only (map the other side's column or exclude it)"
                         for c in mine.fields if c not in other.fields and c not in excluded]  # fmt: skip
    return problems


def _why_not(ours: Columns, theirs: Columns, compared: tuple[str, ...], excluded: tuple[str, ...]) -> dict[str, str]:
    """Each money column not compared, and why."""
    reasons = {}
    for side, mine, other in (("ours", ours, theirs), ("theirs", theirs, ours)):
        for c in (*mine.fields, *mine.unknown):
            if c in compared or c in reasons:
                continue
            where = f"{side} only" if c not in other.fields else "not among the fields asked for"
            reasons[c] = "excluded" if c in excluded else where
    return reasons


def plan(ours: Columns, theirs: Columns, asked: tuple[str, ...] | None = None, excluded: tuple[str, ...] = ()) -> Plan:
    """Every money column either side carries is compared or named as not compared: a column that
    holds amounts under an unknown name (a typo, a column left out of the mapping) or a field on
    one side only is an error unless ``excluded``; ``asked`` (``--fields``) compares only those and
    names the others."""
    shared = tuple(f for f in ours.fields if f in theirs.fields)
    missing = [f for f in asked or () if f not in shared]
    if missing:
        raise ReconcileError(f"not a money column of both files: {missing} (shared: {list(shared)})")
    problems = _unaccounted(ours, theirs, excluded, asked is not None)
    if problems:
        raise ReconcileError("; ".join(problems) + " — a reconciliation that skipped them could pass by mistake")
    compared = tuple(f for f in (asked or shared) if f not in excluded)
    if not compared:
        raise ReconcileError("no money column to compare: the files share none of " + ", ".join(FIELDS))
    return Plan(compared, _why_not(ours, theirs, compared, excluded))


@dataclass(frozen=True)
class Side:
    """One side's records: unique keys (strings), a reversal flag and money columns (fen), row-aligned."""

    name: str
    key: pd.Series | npt.NDArray[np.object_]
    reversed: Bools
    money: dict[str, I64]
    unknown: tuple[str, ...] = ()  # columns holding amounts under a name that is not a money field
    category: npt.NDArray[np.object_] | None = None  # the relief category each row was settled under

    def columns(self) -> Columns:
        return Columns(tuple(self.money), self.unknown)

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
    plan: Plan | None = None  # what was compared, and why the other money columns were not

    @property
    def passed(self) -> bool:
        differences = bool((self.totals["difference"] != 0).any())
        return not differences and all(n == 0 for outcome, n in self.counts.items() if outcome != "matched")

    def summary_line(self) -> str:
        parts = ", ".join(f"{outcome} {self.counts[outcome]:,}" for outcome in OUTCOMES)
        line = f"{'PASS' if self.passed else 'FAIL'}: {sum(self.counts.values()):,} keys — {parts}"
        return line + (f" — {self.plan.describe()}" if self.plan else "")


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


def reconcile(ours: Side, theirs: Side, fields: tuple[str, ...], plan: Plan | None = None) -> Reconciliation:
    """Match ``theirs`` to ``ours`` by key and compare ``fields`` (see the module docstring; ``plan``:
    how they were chosen, :func:`plan`, kept for the verdict)."""
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
        mine_fen, their_fen = ours.money[f][both[keep]], theirs.money[f][partner[keep]]
        why = differences_told(mine_fen, their_fen, *_categories(ours, theirs, both[keep], partner[keep]))
        parts.append(_rows(mine_keys, both[keep], "amount_differs", f, mine_fen, their_fen, why))
    only_ours, only_theirs = np.flatnonzero(mine < 0), np.flatnonzero(other < 0)
    parts.append(_rows(mine_keys, only_ours, "only_ours", "", None, None, unbooked(mine_keys, only_ours)))
    parts.append(_rows(their_keys, only_theirs, "only_theirs", "", None, None))
    counts = {
        "matched": int((~flipped & ~any_difference).sum()),
        "amount_differs": int(any_difference.sum()),
        "only_ours": len(only_ours),
        "only_theirs": len(only_theirs),
        "reversed_one_side": int(flipped.sum()),
    }
    return Reconciliation(pd.concat(parts, ignore_index=True), counts, _totals(ours, theirs, fields), plan)


def differences_told(
    ours: I64, theirs: I64, our_category: npt.NDArray[np.object_] | None, their_category: npt.NDArray[np.object_] | None
) -> npt.NDArray[np.object_]:
    """Why an amount differs, where it can be told: the relief category differs (the identity the
    claim was settled under), one fen apart (rounding), their amount is ours negated (a reversal
    booked on one side); else empty.

    >>> differences_told(np.array([100, 500, 700]), np.array([101, -500, 600]), None, None).tolist()
    ['rounding: one fen apart', 'theirs is ours negated: a reversal booked on one side', '']
    """
    told = np.select(
        [np.abs(ours - theirs) == 1, (theirs == -ours) & (ours != 0)],
        ["rounding: one fen apart", "theirs is ours negated: a reversal booked on one side"],
        "",
    ).astype(object)
    if our_category is not None and their_category is not None:
        other = our_category != their_category
        told[other] = "identity differs: ours " + our_category[other] + ", theirs " + their_category[other]
    return told


def _categories(
    ours: Side, theirs: Side, mine: I64, partner: I64
) -> tuple[npt.NDArray[np.object_] | None, npt.NDArray[np.object_] | None]:
    if ours.category is None or theirs.category is None:
        return None, None
    return ours.category[mine], theirs.category[partner]


def unbooked(keys: pa.Array, rows: I64) -> npt.NDArray[np.object_]:
    """Our rows missing on their side that are re-settlement adjustments (keys ``<run_id>/<setl_id>``,
    as ``medrelief export`` writes them): an adjustment the other side has not booked."""
    chosen = keys.take(pa.array(rows, type=pa.int64()))
    adjustment = pc.match_substring_regex(chosen, "^[^/]+/.+$")
    told = pc.replace_substring_regex(
        chosen, "^[^/]+/(.+)$", r"re-settlement adjustment of \1: not booked on their side"
    )
    return np.asarray(pc.if_else(adjustment, told, "").to_numpy(zero_copy_only=False), dtype=object)


def _totals(ours: Side, theirs: Side, fields: tuple[str, ...]) -> pd.DataFrame:
    mine = [int(ours.money[f].sum()) for f in fields]
    other = [int(theirs.money[f].sum()) for f in fields]
    return pd.DataFrame(
        {"field": list(fields), "ours": mine, "theirs": other, "difference": np.subtract(mine, other, dtype=np.int64)}
    )
