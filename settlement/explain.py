"""Why each claim was paid what it was: one row per claim and layer.

Columns: the claim, the layer and its output column, the policy id and the version (date in
force) used, the rule and cap bucket that applied, the base the layer paid from, the bucket's
cumulative base before/after the claim, the deductible and how much of it this claim bore, the
bands and ratios, the amount before the cap, the cap, what the bucket had paid before, the
payment, and what is left of the cap after the claim (``crt_payb_lmt_amt``; empty: no cap).
"""

from __future__ import annotations

import weakref
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


_BAND_TEXTS: weakref.WeakKeyDictionary[LayerTable, dict[int, str]] = weakref.WeakKeyDictionary()


def _band_text_at(table: LayerTable, at: int) -> str:
    """:func:`band_text` of table position ``at`` (= term · ADMISSIONS + admission), formatted once per table."""
    known = _BAND_TEXTS.setdefault(table, {})
    if at not in known:
        known[at] = band_text(table, at // ADMISSIONS, at % ADMISSIONS)
    return known[at]


def _texts(table: LayerTable, term: I64, admission: I64) -> npt.NDArray[np.object_]:
    key = term * ADMISSIONS + admission
    unique, inverse = np.unique(key, return_inverse=True)
    texts = np.array([_band_text_at(table, int(k)) for k in unique], dtype=object)
    return texts[inverse]


def _bucket_columns(result: Settlement, table: LayerTable, trace: BucketTrace) -> dict[str, npt.NDArray[Any]]:
    rule = table.rule_of_term(trace.term)
    version = table.version_of_term(trace.term)
    capped = trace.cap < NO_LIMIT
    return {
        "position": result.order[trace.rows],
        "rule": np.asarray(table.rule_ids, dtype=object)[rule],
        "bucket": np.full(len(trace.rows), table.buckets[trace.bucket], dtype=object),
        "version": np.asarray([str(v) for v in result.policy.versions], dtype=object)[version],
        "base": trace.base,
        "cum_before": trace.cum_before,
        "cum_after": trace.cum_after,
        "deductible": trace.deductible,
        "deductible_applied": trace.deductible_applied,
        "bands": _texts(table, trace.term, trace.admission),
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


def columns(result: Settlement) -> dict[str, npt.NDArray[Any]]:
    """The explanation as plain arrays (money in fen, -1 for "no cap"), one row per claim and
    layer, ordered by claim (input order) then layer — no pandas, for the real-time path."""
    parts = []
    for index, layer in enumerate(result.layers):
        table = result.policy.layer_table(layer.table_id)
        traces = result.traces(index)
        matched = np.zeros(len(result.claims), dtype=bool)
        for t in traces:
            matched[result.order[t.rows]] = True
        for part in [*(_bucket_columns(result, table, t) for t in traces), _unmatched(np.flatnonzero(~matched))]:
            size = len(part["position"])
            parts.append(
                {
                    **part,
                    "layer": np.full(size, layer.table_id, object),
                    "output": np.full(size, layer.output, object),
                    "layer_index": np.full(size, index, np.int64),
                }
            )
    merged = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]} if parts else {}
    if not merged:
        return {c: np.zeros(0, object) for c in EXPLAIN_COLUMNS}
    order = np.lexsort((merged["layer_index"], merged["position"]))
    position = merged["position"][order]
    claims = result.claims
    return {
        "claim_id": claims.claim_id[position],
        "person_id": claims.persons[claims.person[position]],
        "layer": merged["layer"][order],
        "output": merged["output"][order],
        "policy": np.full(len(order), result.policy.id, dtype=object),
        **{c: merged[c][order] for c in EXPLAIN_COLUMNS[5:]},
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
