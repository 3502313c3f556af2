"""Why each claim was paid what it was: one row per claim and layer.

Columns: the claim, the layer and its output column, the policy id and the version (date in
force) used, the rule and cap bucket that applied, the base the layer paid from, the bucket's
cumulative base before/after the claim, the deductible and how much of it this claim bore, the
bands and ratios, the amount before the cap, the cap, what the bucket had paid before, the
payment, and what is left of the cap after the claim (``crt_payb_lmt_amt``; empty: no cap).
"""

from __future__ import annotations

from decimal import Decimal

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


TRACE_COLUMNS = [
    "position",
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


def _texts(table: LayerTable, term: I64, admission: I64) -> npt.NDArray[np.object_]:
    key = term * ADMISSIONS + admission
    unique, inverse = np.unique(key, return_inverse=True)
    texts = np.array([band_text(table, int(k) // ADMISSIONS, int(k) % ADMISSIONS) for k in unique], dtype=object)
    return texts[inverse]


def _nullable(values: I64, valid: npt.NDArray[np.bool_]) -> pd.Series:
    return pd.Series(np.where(valid, values, 0), dtype="Int64").mask(~valid)


def _bucket_frame(result: Settlement, table: LayerTable, trace: BucketTrace) -> pd.DataFrame:
    rule = table.rule_of_term(trace.term)
    version = table.version_of_term(trace.term)
    capped = trace.cap < NO_LIMIT
    after = trace.paid_before + trace.paid
    return pd.DataFrame(
        {
            "position": result.order[trace.rows],
            "rule": np.asarray(table.rule_ids, dtype=object)[rule],
            "bucket": table.buckets[trace.bucket],
            "version": np.asarray([str(v) for v in result.policy.versions], dtype=object)[version],
            "base": trace.base,
            "cum_before": trace.cum_before,
            "cum_after": trace.cum_after,
            "deductible": trace.deductible,
            "deductible_applied": trace.deductible_applied,
            "bands": _texts(table, trace.term, trace.admission),
            "raw_amount": trace.raw,
            "cap": _nullable(trace.cap, capped),
            "cap_used_before": trace.paid_before,
            "paid": trace.paid,
            "cap_left": _nullable(trace.cap - after, capped),
        }
    )


def explain(result: Settlement) -> pd.DataFrame:
    """The explanation table (money in int fen; nullable where there is no cap)."""
    frames = []
    n = len(result.claims)
    for index, layer in enumerate(result.layers):
        table = result.policy.layer_table(layer.table_id)
        traces = result.traces(index)
        parts = [_bucket_frame(result, table, t) for t in traces]
        matched = np.zeros(n, dtype=bool)
        for t in traces:
            matched[result.order[t.rows]] = True
        parts.append(pd.DataFrame({"position": np.flatnonzero(~matched), "rule": "", "bucket": ""}))
        frame = pd.concat(parts, ignore_index=True).reindex(columns=TRACE_COLUMNS)
        frame.insert(1, "layer", layer.table_id)
        frame.insert(2, "output", layer.output)
        frames.append(frame)
    whole = pd.concat(frames, ignore_index=True).sort_values(["position"], kind="stable")
    whole.insert(0, "claim_id", result.claims.claim_id[whole["position"].to_numpy()])
    whole.insert(1, "person_id", result.claims.persons[result.claims.person[whole["position"].to_numpy()]])
    whole.insert(4, "policy", result.policy.id)
    for column in MONEY:
        if column not in ("cap", "cap_left"):
            whole[column] = whole[column].fillna(0).astype(np.int64)
    whole["version"] = whole["version"].fillna("")
    whole["bands"] = whole["bands"].fillna("")
    return whole.drop(columns="position").reset_index(drop=True)
