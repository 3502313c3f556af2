"""One payment, many settlements (对账 of bulk payments): an insurer or fund that pays per hospital
and month, or per payment batch, is reconciled by group — our settlement rows summed per group,
their payment rows summed per group (one row each, usually), the groups matched and compared as
:func:`settlement.reconcile.reconcile` compares rows; each report row says how many rows of each
side the group holds. ``settle_month`` (the ``YYYY-MM`` of ``settle_date``) can be grouped on
though no file carries it. Reversals and adjustments are rows with their signed amounts: a group's
sum is what was paid for it, net."""

from __future__ import annotations

import numpy as np
import pandas as pd

from settlement import io
from settlement.reconcile import Plan, ReconcileError, Reconciliation, Side, plan, reconcile

GROUP = "group"
DERIVED = {"settle_month": ("settle_date", 7)}
"""Columns a group may use that the files need not carry: name → (source column, characters kept)."""


def _grouping(text: pd.DataFrame, by: tuple[str, ...], where: str) -> pd.DataFrame:
    """``text`` with a ``group`` column: the values of ``by`` joined (derived columns made first)."""
    for name, (source, width) in DERIVED.items():
        if name in by and name not in text.columns and source in text.columns:
            text = text.assign(**{name: text[source].astype(str).str.slice(0, width)})
    missing = [c for c in by if c not in text.columns]
    if missing:
        raise io.TableFileError(f"{where}: no column {missing} to group by (columns: {list(text.columns)})")
    joined = text[by[0]].astype(str)
    for column in by[1:]:
        joined = joined + " | " + text[column].astype(str)
    return text.assign(**{GROUP: joined})


def _summed(side: Side) -> tuple[Side, pd.Series]:
    """One row per group: the money summed (fen), never reversed (reversals are in the sums); and
    each group's number of rows."""
    frame = pd.DataFrame({GROUP: np.asarray(side.key, dtype=object), **side.money})
    grouped = frame.groupby(GROUP, sort=True)
    sums, counts = grouped[list(side.money)].sum(), grouped.size()
    keys = counts.index.to_numpy(dtype=object)
    money = {f: sums[f].to_numpy(np.int64) for f in side.money}
    return Side(side.name, keys, np.zeros(len(keys), bool), money, side.unknown), counts


def reconcile_grouped(
    ours: pd.DataFrame,
    theirs: pd.DataFrame,
    by: tuple[str, ...],
    mapping: io.ColumnMapping | None = None,
    fields: tuple[str, ...] | None = None,
    excluded: tuple[str, ...] = (),
) -> Reconciliation:
    """Reconcile two tables of text cells by the groups of ``by`` (our column names; theirs mapped)."""
    if not by:
        raise ReconcileError("no column to group by")
    mapping = mapping or io.ColumnMapping()
    theirs = theirs.rename(columns=mapping.columns)
    bare = mapping.model_copy(update={"columns": {}, "key": None})  # renamed already; the reversal flag kept
    mine = io.side_of(_grouping(ours, by, "ours").drop(columns=list(by), errors="ignore"), "ours", GROUP)
    other = io.side_of(_grouping(theirs, by, "theirs").drop(columns=list(by), errors="ignore"), "theirs", GROUP, bare)
    (mine, mine_rows), (other, other_rows) = _summed(mine), _summed(other)
    chosen: Plan = plan(mine.columns(), other.columns(), fields, excluded)
    result = reconcile(mine, other, chosen.compared, chosen)
    report = result.report.copy()
    keys = report["key"].astype(str)
    counted = keys.map(mine_rows).fillna(0).astype(int).astype(str) + " of ours, "
    counted += keys.map(other_rows).fillna(0).astype(int).astype(str) + " of theirs"
    report["note"] = np.where(report["note"].astype(str) != "", report["note"].astype(str) + "; " + counted, counted)
    return Reconciliation(report, result.counts, result.totals, chosen)
