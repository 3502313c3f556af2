"""Why each claim was paid what it was: one row per claim and layer.

Columns: the claim, the layer and its output column, the policy id and the version (date in
force) used, the rule and cap bucket that applied, the base the layer paid from, the bucket's
cumulative base before/after the claim, the deductible and how much of it this claim bore, the
bands and ratios, the amount before the cap, the cap, what the bucket had paid before, the
payment, and what is left of the cap after the claim (``crt_payb_lmt_amt``; empty: no cap).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.engine import Settlement
from settlement.layers import BucketTrace
from tiers.tables import ADMISSIONS, NO_LIMIT, RATIO_SCALE, LayerTable

I64 = npt.NDArray[np.int64]
MONEY = (
    "base",
    "cum_before",
    "cum_after",
    "deductible",
    "deductible_applied",
    "raw_amount",
    "cap",
    "cap_used_before",
    "paid",
    "cap_left",
)


EXPLAIN_COLUMNS = [
    "claim_id",
    "person_id",
    "layer",
    "output",
    "policy",
    "rule",
    "bucket",
    "version",
    "base",
    "cum_before",
    "cum_after",
    "deductible",
    "deductible_applied",
    "bands",
    "raw_amount",
    "cap",
    "cap_used_before",
    "paid",
    "cap_left",
]


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def _percent(units: int) -> str:
    return f"{(Decimal(units) * 100 / RATIO_SCALE).normalize():f}%"


def band_text(table: LayerTable, term: int, admission: int) -> str:
    """Bands of one term, e.g. ``7500.00–50000.00 @ 65%; 50000.00– @ 75%``."""
    at = term * ADMISSIONS + admission
    parts = []
    for k in range(table.n_bands):
        lo, width = int(table.band_lo[k][at]), int(table.band_width[k][at])
        if lo >= NO_LIMIT or (width == 0 and k > 0):
            continue
        end = "" if width >= NO_LIMIT else _yuan(lo + width)
        parts.append(f"{_yuan(lo)}–{end} @ {_percent(int(table.ratio[k][term]))}")
    return "; ".join(parts)


@dataclass(frozen=True)
class _Labels:
    """A layer table's text columns as arrays, built once per table: indexed, never formatted per claim."""

    rule: npt.NDArray[np.object_]  # by rule index
    bucket: npt.NDArray[np.object_]  # by bucket index
    bands: npt.NDArray[np.object_]  # by table position term · ADMISSIONS + admission
    version: npt.NDArray[np.object_]  # by version index


_LABELS: weakref.WeakKeyDictionary[LayerTable, _Labels] = weakref.WeakKeyDictionary()


def _labels(table: LayerTable, versions: tuple[Any, ...]) -> _Labels:
    known = _LABELS.get(table)
    if known is None:
        positions = range(len(table.deductible))
        known = _Labels(
            rule=np.array(table.rule_ids, dtype=object),
            bucket=np.array(table.buckets, dtype=object),
            bands=np.array([band_text(table, at // ADMISSIONS, at % ADMISSIONS) for at in positions], dtype=object),
            version=np.array([str(v) for v in versions], dtype=object),
        )
        _LABELS[table] = known
    return known


def _bucket_columns(result: Settlement, table: LayerTable, trace: BucketTrace) -> dict[str, npt.NDArray[Any]]:
    labels = _labels(table, result.policy.versions)
    capped = trace.cap < NO_LIMIT
    return {
        "position": result.order[trace.rows],
        "rule": labels.rule[table.rule_of_term(trace.term)],
        "bucket": labels.bucket[np.full(len(trace.rows), trace.bucket)],
        "version": labels.version[table.version_of_term(trace.term)],
        "base": trace.base,
        "cum_before": trace.cum_before,
        "cum_after": trace.cum_after,
        "deductible": trace.deductible,
        "deductible_applied": trace.deductible_applied,
        "bands": labels.bands[trace.term * ADMISSIONS + trace.admission],
        "raw_amount": trace.raw,
        "cap": np.where(capped, trace.cap, -1),
        "cap_used_before": trace.paid_before,
        "paid": trace.paid,
        "cap_left": np.where(capped, trace.cap - trace.paid_before - trace.paid, -1),
    }


def _unmatched(positions: I64) -> dict[str, npt.NDArray[Any]]:
    """Rows of claims no rule of the layer matches: nothing paid, no cap (-1)."""
    text = np.full(len(positions), "", dtype=object)
    zero = np.zeros(len(positions), np.int64)
    columns: dict[str, npt.NDArray[Any]] = dict.fromkeys(MONEY, zero)
    return {
        **columns,
        "position": positions,
        "rule": text,
        "bucket": text,
        "version": text,
        "bands": text,
        "cap": zero - 1,
        "cap_left": zero - 1,
    }


def _layer_parts(result: Settlement, index: int) -> list[dict[str, npt.NDArray[Any]]]:
    """One layer's rows: each bucket's claims, then the claims no rule of the layer matched."""
    table = result.policy.layer_table(result.layers[index].table_id)
    parts = [_bucket_columns(result, table, t) for t in result.traces(index)]
    matched = np.zeros(len(result.claims), dtype=bool)
    for part in parts:
        matched[part["position"]] = True
    if not matched.all():
        parts.append(_unmatched(np.flatnonzero(~matched)))
    return parts


def columns(result: Settlement) -> dict[str, npt.NDArray[Any]]:
    """The explanation as plain arrays (money in fen, -1 for "no cap"), one row per claim and
    layer, ordered by claim (input order) then layer — no pandas, for the real-time path."""
    parts, part_layer = [], []
    for index in range(len(result.layers)):
        for part in _layer_parts(result, index):
            parts.append(part)
            part_layer.append(index)
    if not parts:
        return {c: np.zeros(0, object) for c in EXPLAIN_COLUMNS}
    merged = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    merged["layer_index"] = np.repeat(np.array(part_layer, np.int64), [len(p["position"]) for p in parts])
    if len(result.claims) > 1:  # one claim (the real-time path): its rows are already in layer order
        order = np.lexsort((merged["layer_index"], merged["position"]))
        merged = {c: values[order] for c, values in merged.items()}
    position, layer_index, claims = merged["position"], merged["layer_index"], result.claims
    return {
        "claim_id": claims.claim_id[position],
        "person_id": claims.persons[claims.person[position]],
        "layer": np.array([la.table_id for la in result.layers], dtype=object)[layer_index],
        "output": np.array([la.output for la in result.layers], dtype=object)[layer_index],
        "policy": np.full(len(position), result.policy.id, dtype=object),
        **{c: merged[c] for c in EXPLAIN_COLUMNS[5:]},
    }


def explain(result: Settlement) -> pd.DataFrame:
    """The explanation table (money in int fen; ``cap``/``cap_left`` empty where there is no cap)."""
    frame = pd.DataFrame(columns(result), columns=EXPLAIN_COLUMNS)
    for column in ("cap", "cap_left"):
        values = frame[column].to_numpy(np.int64)
        frame[column] = pd.array(np.where(values < 0, 0, values), dtype="Int64")
        frame.loc[values < 0, column] = pd.NA
    for column in MONEY:
        if column not in ("cap", "cap_left"):
            frame[column] = frame[column].astype(np.int64)
    return frame
