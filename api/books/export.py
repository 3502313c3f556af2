"""The books of a period as one table: settlements, reversals and adjustments, a row each.

Settlement and reversal rows are as stored (a reversal's amounts are negative: it takes back what
its claim effectively received). Each re-settlement run's adjustments of one settlement are one
row (``kind`` ``adjustment``, key ``<run_id>/<setl_id>``, ``adjusts`` the settlement): the
per-fund deltas, ``fund_pay_sumamt`` their sum and ``psn_part_amt`` its negation (what the person
is owed back, or owes), no bill amounts. An adjustment row is dated by its claim's ``settle_date``
(the year whose books it changes) and carries ``recorded_on``, the day it was made — so what a
period's rows total is what the funds paid for that period's claims, to the fen.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from api.books import queries
from api.books.driver import Driver, Statement
from api.books.reading import as_date
from api.claims import SETTLEMENT_MONEY
from tiers.codes import PAYMENT_COLUMNS, fund_columns

COLUMNS = (
    "setl_id", "kind", "reverses", "adjusts", "status", "claim_id", "institution_id", "person_id", "settle_date",
    "recorded_on", "med_type", "hospital_level", "category", "policy_id", *SETTLEMENT_MONEY,
)  # fmt: skip
_STORED = [c for c in COLUMNS if c not in ("adjusts", "recorded_on")]
_SETTLEMENTS = Statement.of(
    f"SELECT {', '.join(_STORED)}, created_at FROM settlement "  # noqa: S608  (names from the models)
    "WHERE settle_date >= :a AND settle_date <= :b ORDER BY settle_date, setl_id"
)
_CLAIM = (
    "claim_id",
    "institution_id",
    "person_id",
    "settle_date",
    "med_type",
    "hospital_level",
    "category",
    "policy_id",
)
_ADJUSTMENTS = Statement.of(
    f"SELECT a.run_id, a.setl_id, a.output, a.delta, a.created_at, {', '.join('s.' + c for c in _CLAIM)} "  # noqa: S608
    "FROM adjustment a JOIN settlement s ON s.setl_id = a.setl_id "
    "WHERE s.settle_date >= :a AND s.settle_date <= :b ORDER BY s.settle_date, a.run_id, a.setl_id"
)
_ADJUSTED_TOTALS = Statement.of(
    "SELECT a.output, sum(a.delta) FROM adjustment a JOIN settlement s ON s.setl_id = a.setl_id "
    "WHERE s.institution_id = :i AND s.settle_date >= :a AND s.settle_date <= :b GROUP BY a.output"
)


def _settlement_rows(db: Driver, start: date, end: date, own: list[queries.OwnFundPaid]) -> pd.DataFrame:
    rows = db.rows(_SETTLEMENTS, {"a": start, "b": end})
    frame = pd.DataFrame(rows, columns=[*_STORED, "created_at"])
    paid = {(f.setl_id, f.output): f.paid for f in own}
    for output in dict.fromkeys(f.output for f in own):
        frame[output] = [paid.get((s, output), 0) for s in frame["setl_id"].tolist()]
    frame["adjusts"] = None
    frame["recorded_on"] = frame["created_at"].map(_day)
    return frame.drop(columns="created_at")


def _adjustment_rows(db: Driver, start: date, end: date, columns: list[str]) -> pd.DataFrame:
    rows = db.rows(_ADJUSTMENTS, {"a": start, "b": end})
    frame = pd.DataFrame(rows, columns=["run_id", "adjusts", "output", "delta", "created_at", *_CLAIM])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    keys = ["run_id", "adjusts", *_CLAIM]
    wide = frame.pivot_table(index=keys, columns="output", values="delta", aggfunc="sum", fill_value=0).reset_index()
    when = frame.groupby(["run_id", "adjusts"])["created_at"].first().map(_day)
    out = wide.assign(
        setl_id=wide["run_id"] + "/" + wide["adjusts"], kind="adjustment", reverses=None, status="settled"
    )
    out["recorded_on"] = [when[(r, s)] for r, s in zip(out["run_id"], out["adjusts"], strict=True)]
    for column in money_columns(columns):
        if column not in out.columns:
            out[column] = 0
    out["fund_pay_sumamt"] = out[list(fund_columns(columns))].sum(axis=1)
    out["psn_part_amt"] = -out["fund_pay_sumamt"]
    return out[columns]


def _columns(own: list[queries.OwnFundPaid]) -> list[str]:
    """The export's columns: :data:`COLUMNS`, a region's own funds after the standard four."""
    at = COLUMNS.index(PAYMENT_COLUMNS[-1]) + 1
    return [*COLUMNS[:at], *dict.fromkeys(f.output for f in own), *COLUMNS[at:]]


def money_columns(columns: list[str]) -> list[str]:
    """The money columns (fen) among an export's ``columns``: :data:`~api.claims.SETTLEMENT_MONEY` and
    a region's own funds."""
    funds = fund_columns(columns)
    return [c for c in columns if c in SETTLEMENT_MONEY or c in funds]


def _day(value: Any) -> str:
    return str(value)[:10]


def settlements(db: Driver, *, start: date, end: date, insutype: str = "", adjustments: bool = True) -> pd.DataFrame:
    """Rows of the period (see the module's text), money in fen, with ``insutype`` (the service's
    policy's) and ``refd_setl_flag`` (1 on reversal rows); a region's own funds (``…_pay``: their
    settlement lines) after the standard four."""
    own = queries.own_funds_paid(db, "period", a=start, b=end)
    columns = _columns(own)
    parts = [_settlement_rows(db, start, end, own)]
    if adjustments:
        parts.append(_adjustment_rows(db, start, end, columns))
    frame = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) else parts[0]
    )
    frame = frame.reindex(columns=columns, fill_value=0).copy()
    for column in money_columns(columns):
        frame[column] = frame[column].astype(np.int64)
    frame["settle_date"] = frame["settle_date"].map(lambda d: as_date(d).isoformat())
    frame["hospital_level"] = frame["hospital_level"].astype(np.int64)
    frame["insutype"] = insutype
    frame["refd_setl_flag"] = (frame["kind"] == "reversal").astype("int64")
    return frame.sort_values(["settle_date", "setl_id"], kind="stable").reset_index(drop=True)


def adjustment_totals(db: Driver, *, institution: str, start: date, end: date) -> dict[str, int]:
    """Σ adjustments per fund of an institution's settlements of the period (fen)."""
    found = {str(o): int(d) for o, d in db.rows(_ADJUSTED_TOTALS, {"i": institution, "a": start, "b": end})}
    return {o: found.get(o, 0) for o in PAYMENT_COLUMNS}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as a formula at the start of a cell (CSV injection)."""


def neutral(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'``; numbers and
    other text are left as they are.

    >>> neutral("=HYPERLINK(1)"), neutral("-12.50"), neutral("P001")
    ("'=HYPERLINK(1)", '-12.50', 'P001')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _number(value):
        return "'" + value
    return value


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(frame: pd.DataFrame) -> str:
    """A table as CSV for people's spreadsheets, formula-leading text neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutral(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False):
        writer.writerow([neutral(v) for v in row])
    return buffer.getvalue()
