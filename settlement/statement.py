"""Statements (对账单, like NHSA 3201/3202): totals of a period's settlements, and an HTML page.

Input: the rows of a period's books (the service's export, ``medrelief export settlements``) with
``setl_id, kind (settlement|reversal|adjustment), institution_id, settle_date, med_type, insutype``
and the money columns in fen. Totals per fund (layer output), insurance type, visit type and
hospital: settlements, reversals and adjustments counted separately, total cost and each layer's
payments (reversal rows carry negative amounts; adjustment rows the per-fund deltas of
re-settlements), so the totals are what the funds paid, net. Σ detail rows == every grouping's
total.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

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
    """One row per fund: its payments, and the settlements/reversals/adjustments in which it paid anything."""
    rows = []
    for output in funds(frame):
        paid = _counted(frame[frame[output] != 0])
        rows.append(
            {
                "dimension": "fund",
                "value": output,
                **{count: int(paid[count].sum()) for count in COUNTS},
                **{m: int(paid[m].sum()) if m in (output, "medfee_sumamt") else 0 for m in money(frame)},
            }
        )
    return pd.DataFrame(rows)


def totals(frame: pd.DataFrame) -> pd.DataFrame:
    """The statement: one row per (dimension, value) plus the grand total (dimension ``all``)."""
    everything = frame.assign(all="all")
    parts = [_grouped(everything, "all", "all"), _by_fund(frame)]
    parts += [_grouped(frame, column, name) for name, column in DIMENSIONS.items() if column]
    out = pd.concat(parts, ignore_index=True)
    return out[["dimension", "value", *COUNTS, *money(frame)]]


def named(statement: pd.DataFrame, names: Names) -> pd.DataFrame:
    """The statement with a ``name`` column after ``value``: each fund and visit type by the
    policy's name (城乡居民基本医疗保险基金, 普通住院), the grand total as 合计."""
    value, dimension = statement["value"].astype(str), statement["dimension"]
    name = pd.Series("", index=statement.index, dtype=object)
    name[dimension == "fund"] = value[dimension == "fund"].map(names.fund)
    name[dimension == "med_type"] = value[dimension == "med_type"].map(names.visit_type)
    name[dimension == "all"] = "合计"
    out = statement.copy()
    out.insert(list(out.columns).index("value") + 1, "name", name)
    return out


def monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """Net payments of each layer per month (fen), for the chart."""
    month = pd.to_datetime(frame["settle_date"]).dt.strftime("%Y-%m")
    return frame.assign(month=month).groupby("month", sort=True)[list(funds(frame))].sum()


def _chart(per_month: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4))
    (per_month / 100).plot.bar(stacked=True, ax=axes)
    axes.set_ylabel("yuan")
    axes.set_title("Payments per month per layer")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _cell(value: Any, money: bool) -> str:
    if money:
        return f"{int(value) / 100:,.2f}"
    return html.escape(str(value))


def render_html(statement: pd.DataFrame, per_month: pd.DataFrame, title: str) -> str:
    """A self-contained page: the chart (PNG inline) and the totals table."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in statement.columns)
    shown = money(statement)
    cells = [[_cell(v, c in shown) for v in statement[c].tolist()] for c in statement.columns]
    rows = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in zip(*cells, strict=True))
    return (
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td{text-align:right;padding:2px 8px}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<img alt='payments per month per layer' src='data:image/png;base64,{_chart(per_month)}'>"
        f"<table><tr>{head}</tr>{rows}</table></body></html>"
    )
