"""Statements (对账单, like NHSA 3201/3202): totals of a period's settlements (the page a fund
sends is :mod:`settlement.statement_page`).

Input: the rows of a period's books (the service's export, ``medrelief export settlements``) with
``setl_id, kind (settlement|reversal|adjustment), institution_id, settle_date, med_type, insutype``
and the money columns in fen. Totals per fund (layer output), insurance type, visit type and
hospital: settlements, reversals and adjustments counted separately, total cost and each layer's
payments (reversal rows carry negative amounts; adjustment rows the per-fund deltas of
re-settlements), so the totals are what the funds paid, net. Σ detail rows == every grouping's
total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tiers.codes import PAYMENT_COLUMNS, fund_columns
from tiers.vocabulary import Names

DIMENSIONS = {"fund": None, "insutype": "insutype", "med_type": "med_type", "hospital": "institution_id"}
MONEY = ("medfee_sumamt", *PAYMENT_COLUMNS, "fund_pay_sumamt", "psn_part_amt")
"""The money columns of a statement of the standard funds (a region's own funds add theirs: :func:`money`)."""


def funds(frame: pd.DataFrame) -> tuple[str, ...]:
    """The fund columns of a period's rows: the standard four, then a region's own (``…_pay``)."""
    own = [c for c in fund_columns(frame.columns) if c not in PAYMENT_COLUMNS]
    return (*PAYMENT_COLUMNS, *own)


def money(frame: pd.DataFrame) -> tuple[str, ...]:
    """The money columns of the statement of ``frame``."""
    return ("medfee_sumamt", *funds(frame), "fund_pay_sumamt", "psn_part_amt")


COUNTS = ("settlements", "reversals", "adjustments")


def _counted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{count: frame["kind"] == count.removesuffix("s") for count in COUNTS})


def _grouped(frame: pd.DataFrame, column: str, dimension: str) -> pd.DataFrame:
    sums = _counted(frame).groupby(column, as_index=False, sort=True)[[*COUNTS, *money(frame)]].sum()
    return sums.rename(columns={column: "value"}).assign(dimension=dimension)


def _by_fund(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per fund: its net payments (and the total cost of the bills it paid in), the
    settlements/reversals/adjustments in which it paid anything; the other money columns are empty
    (a fund's row says nothing of the others' payments or the patient's share)."""
    rows = []
    for output in funds(frame):
        paid = _counted(frame[frame[output] != 0])
        rows.append(
            {
                "dimension": "fund",
                "value": output,
                **{count: int(paid[count].sum()) for count in COUNTS},
                **{m: int(paid[m].sum()) if m in (output, "medfee_sumamt") else pd.NA for m in money(frame)},
            }
        )
    return pd.DataFrame(rows).astype(dict.fromkeys(money(frame), "Int64"))


def by_kind(frame: pd.DataFrame) -> pd.DataFrame:
    """Per fund (a row each), what settlements, reversals and adjustments paid, apart (fen), the rows
    each kind paid anything in, and the net — the table a fund checks its payments against."""
    paid = list(funds(frame))
    kinds = [count.removesuffix("s") for count in COUNTS]
    amounts = frame.groupby("kind")[paid].sum().reindex(kinds, fill_value=0)
    counts = (frame[paid] != 0).groupby(frame["kind"]).sum().reindex(kinds, fill_value=0)
    out = pd.DataFrame({"fund": paid})
    for kind, count in zip(kinds, COUNTS, strict=True):
        out[count] = counts.loc[kind].to_numpy(np.int64)
        out[f"{kind}_amount"] = amounts.loc[kind].to_numpy(np.int64)
    out["net"] = amounts.sum().to_numpy(np.int64)
    return out


def period(frame: pd.DataFrame) -> tuple[str, str]:
    """The first and last settlement date of the rows (ISO dates)."""
    days = pd.to_datetime(frame["settle_date"])
    return days.min().date().isoformat(), days.max().date().isoformat()


def totals(frame: pd.DataFrame) -> pd.DataFrame:
    """The statement: one row per (dimension, value) plus the grand total (dimension ``all``)."""
    everything = frame.assign(all="all")
    parts = [_grouped(everything, "all", "all"), _by_fund(frame)]
    parts += [_grouped(frame, column, name) for name, column in DIMENSIONS.items() if column]
    out = pd.concat(parts, ignore_index=True)
    return out[["dimension", "value", *COUNTS, *money(frame)]]


def named(statement: pd.DataFrame, names: Names) -> pd.DataFrame:
    """The statement with a ``name`` column after ``value``: each fund and visit type by the
    policy's name (城乡居民基本医疗保险基金, 普通住院), insurance types by the platform's, the grand
    total as 合计."""
    value, dimension = statement["value"].astype(str), statement["dimension"]
    name = pd.Series("", index=statement.index, dtype=object)
    name[dimension == "fund"] = value[dimension == "fund"].map(names.fund)
    name[dimension == "med_type"] = value[dimension == "med_type"].map(names.visit_type)
    name[dimension == "insutype"] = value[dimension == "insutype"].map(names.insurance_type)
    name[dimension == "all"] = "合计"
    out = statement.copy()
    out.insert(list(out.columns).index("value") + 1, "name", name)
    return out


def monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """Net payments of each layer per month (fen), for the chart."""
    month = pd.to_datetime(frame["settle_date"]).dt.strftime("%Y-%m")
    return frame.assign(month=month).groupby("month", sort=True)[list(funds(frame))].sum()
