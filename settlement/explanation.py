"""Why each claim was paid what it was: one row per claim and layer.

Columns: the claim, the layer and its output column, the policy id and the version (date in
force) used, the rule and cap bucket that applied, the base the layer paid from, the bucket's
cumulative base before/after the claim, the deductible and how much of it this claim bore, the
bands and ratios, the amount before the cap, the cap, what the bucket had paid before, the
payment, what is left of the cap after the claim (``crt_payb_lmt_amt``; empty: no cap), and the
most one claim of the rule is paid (``claim_cap``, 单次限额; empty: none).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.engine import SettledBatch
from settlement.scan import ROW_FIELDS
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
    "claim_cap",
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
    "claim_cap",
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
    """The text columns of a policy's layers, built once: indexed by the explanation kernel, never
    formatted per claim. Index 0 of each is ``""`` (a claim no rule of the layer matched)."""

    rule: npt.NDArray[np.object_]  # at the table's offset + rule index
    bucket: npt.NDArray[np.object_]  # at the table's offset + bucket index
    bands: npt.NDArray[np.object_]  # at the table's offset + term · ADMISSIONS + admission
    version: npt.NDArray[np.object_]  # at 1 + version index
    offsets: dict[str, tuple[int, int, int]]  # table id → where its rules, buckets, bands start (≥ 1)


@lru_cache(maxsize=16)
def _labels(tables: tuple[LayerTable, ...], versions: tuple[Any, ...]) -> _Labels:
    rule, bucket, bands, offsets = [""], [""], [""], {}
    for table in tables:
        offsets[table.id] = (len(rule), len(bucket), len(bands))
        rule += table.rule_ids
        bucket += table.buckets
        bands += [band_text(table, at // ADMISSIONS, at % ADMISSIONS) for at in range(len(table.deductible))]
    version = ["", *(str(v) for v in versions)]
    rule_text, bucket_text, bands_text, version_text = (
        np.array(v, dtype=object) for v in (rule, bucket, bands, version)
    )
    return _Labels(rule_text, bucket_text, bands_text, version_text, offsets)


CAPS = ("cap", "cap_left", "claim_cap")
"""The money columns where -1 (in the arrays) or empty (in the table) means "no such cap"."""
NUMBERS = ("position", "layer_index", "rule", "bucket", "version", "bands", *MONEY)
"""Rows of the explanation kernel's matrix: where the row goes, label indices, money (fen)."""
POSITION, LAYER, RULE, BUCKET, VERSION, BANDS = range(6)
BASE, CUM_BEFORE, CUM_AFTER, DEDUCTIBLE, APPLIED, RAW, CAP, CAP_USED, PAID, CAP_LEFT, CLAIM_CAP = range(6, len(NUMBERS))
_TERM, _ADMISSION, _BEFORE, _AFTER, _RAW, _PAID, _PAID_BEFORE = (
    ROW_FIELDS.index(f) for f in ("term", "admission", "before", "after", "raw", "paid", "paid_before")
)


@numba.njit(cache=True, nogil=True)
def _fill(out: I64, place: I64, order: I64, codes: I64, detail: I64, deductible: I64, cap: I64, claim_cap: I64) -> None:
    """One layer's claims into ``out`` (column ``position · layers + layer``): labels and money.

    ``place`` = [layer, layers, terms per rule, rules, rule offset, bucket label of code 0, bands
    offset]; ``codes`` is each sorted row's bucket code in the layer (-1: no rule matched, left
    out); ``detail`` the layer's :data:`settlement.scan.ROW_FIELDS` × sorted rows.
    """
    layer, layers, per_rule, n_rules, rule_at, bucket_at, bands_at = place
    for i in range(codes.shape[0]):
        if codes[i] < 0:
            continue
        r = order[i] * layers + layer
        t, before, after = detail[_TERM, i], detail[_BEFORE, i], detail[_AFTER, i]
        at = t * ADMISSIONS + detail[_ADMISSION, i]
        d, c, raw, paid, paid_before = (
            deductible[at],
            cap[t],
            detail[_RAW, i],
            detail[_PAID, i],
            detail[_PAID_BEFORE, i],
        )
        out[RULE, r] = rule_at + (t // per_rule) % n_rules
        out[BUCKET, r] = bucket_at + codes[i]
        out[VERSION, r] = 1 + t // (per_rule * n_rules)
        out[BANDS, r] = bands_at + at
        out[BASE, r], out[CUM_BEFORE, r], out[CUM_AFTER, r] = after - before, before, after
        out[DEDUCTIBLE, r], out[APPLIED, r] = d, min(after, d) - min(before, d)
        out[RAW, r], out[CAP_USED, r], out[PAID, r] = raw, paid_before, paid
        out[CAP, r] = c if c < NO_LIMIT else -1
        out[CAP_LEFT, r] = c - paid_before - paid if c < NO_LIMIT else -1
        out[CLAIM_CAP, r] = claim_cap[t] if claim_cap[t] < NO_LIMIT else -1


def _numbers(result: SettledBatch, labels: _Labels) -> I64:
    """The kernel's matrix: a column per claim and layer, by claim (input order) then layer; a claim
    no rule of a layer matched keeps the defaults (labels ``""``, nothing paid, no cap)."""
    n, layers = len(result.claims), len(result.layers)
    out = np.zeros((len(NUMBERS), n * layers), np.int64)
    out[POSITION] = np.repeat(np.arange(n, dtype=np.int64), layers)
    out[LAYER] = np.tile(np.arange(layers, dtype=np.int64), n)
    out[CAP] = out[CAP_LEFT] = out[CLAIM_CAP] = -1
    first_code = result.policy.stack.bucket_offset
    for index, table in enumerate(result.policy.layers):
        rule_at, bucket_at, bands_at = labels.offsets[table.id]
        place = np.array(
            [
                index,
                layers,
                table.terms_per_rule,
                len(table.rule_ids),
                rule_at,
                bucket_at - first_code[index],
                bands_at,
            ],
            np.int64,
        )
        codes, detail = result.bucket_codes[index], result.detail[index]
        _fill(out, place, result.order, codes, detail, table.deductible, table.cap, table.claim_cap)
    return out


def columns(result: SettledBatch) -> dict[str, npt.NDArray[Any]]:
    """The explanation as plain arrays (money in fen, -1 for "no cap"), one row per claim and
    layer, ordered by claim (input order) then layer — no pandas, for the real-time path."""
    labels = _labels(result.policy.layers, result.policy.versions)
    numbers = _numbers(result, labels)
    position, layer_index, claims = numbers[POSITION], numbers[LAYER], result.claims
    named = {
        "claim_id": claims.claim_id[position],
        "person_id": claims.persons[claims.person[position]],
        "layer": np.array([la.table_id for la in result.layers], dtype=object)[layer_index],
        "output": np.array([la.output for la in result.layers], dtype=object)[layer_index],
        "policy": np.full(len(position), result.policy.id, dtype=object),
        "rule": labels.rule[numbers[RULE]],
        "bucket": labels.bucket[numbers[BUCKET]],
        "version": labels.version[numbers[VERSION]],
        "bands": labels.bands[numbers[BANDS]],
        **{c: numbers[NUMBERS.index(c)] for c in MONEY},
    }
    return {c: named[c] for c in EXPLAIN_COLUMNS}


def explain(result: SettledBatch) -> pd.DataFrame:
    """The explanation table (money in int fen; ``cap``/``cap_left``/``claim_cap`` empty where
    there is no such cap)."""
    frame = pd.DataFrame(columns(result), columns=EXPLAIN_COLUMNS)
    for column in CAPS:
        values = frame[column].to_numpy(np.int64)
        frame[column] = pd.array(np.where(values < 0, 0, values), dtype="Int64")
        frame.loc[values < 0, column] = pd.NA
    for column in MONEY:
        if column not in CAPS:
            frame[column] = frame[column].astype(np.int64)
    return frame
