"""A fund's statement (结算对账单) as a page to send: who issues it and for which period, the
overview, what each fund paid in settlements, reversals (冲正) and adjustments (re-settlements
after an identity was granted or revoked) apart with the net, then the totals by insurance type,
visit type and hospital in the policy's words, and the payments per month — printable to A4
(and to PDF through the browser's print). Money is exact (fen → yuan as text, never a float)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from settlement.charts import cjk_font, data_uri, label, png
from settlement.money import yuan_grouped
from settlement.statement import COUNTS

_env = Environment(loader=PackageLoader("settlement", "templates"), autoescape=select_autoescape(["html"]))
SECTIONS = {"insutype": "按险种", "med_type": "按医疗类别", "hospital": "按医疗机构"}
"""The breakdowns after the funds' table, in order."""
KIND_NAMES = {"settlements": "结算", "reversals": "冲正", "adjustments": "调整"}


@dataclass(frozen=True)
class Heading:
    """What the statement says about itself: its title, who issues it, the period it covers,
    the policy its names come from, and the day it was made."""

    title: str
    issuer: str
    start: str
    end: str
    policy: str = ""
    issued: str = ""


Row = dict[Any, Any]


def _name(row: Row) -> str:
    return str(row.get("name") or row["value"])


def _totals_row(row: Row) -> list[str]:
    counts = [f"{int(row[c]):,}" for c in COUNTS]
    return [*counts, *(yuan_grouped(int(row[m])) for m in ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt"))]


def _section(statement: pd.DataFrame, dimension: str) -> list[list[str]]:
    rows = statement[statement["dimension"] == dimension].to_dict("records")
    return [[str(r["value"]), _name(r) if "name" in r else "", *_totals_row(r)] for r in rows]


def _funds(kinds: pd.DataFrame, names: dict[str, str]) -> list[list[str]]:
    rows = []
    for row in [*kinds.to_dict("records"), {"fund": "合计", **kinds.drop(columns="fund").sum().to_dict()}]:
        cells = [names.get(str(row["fund"]), str(row["fund"]))]
        for count in COUNTS:
            cells += [f"{int(row[count]):,}", yuan_grouped(int(row[f"{count.removesuffix('s')}_amount"]))]
        rows.append([*cells, yuan_grouped(int(row["net"]))])
    return rows


def _chart(per_month: pd.DataFrame, names: dict[str, str]) -> str:
    shown = (per_month / 1_000_000).rename(columns=lambda c: label(names.get(str(c), str(c)), str(c)))

    def draw(axes: Any) -> None:
        shown.plot.bar(stacked=True, ax=axes, rot=60, xlabel="")
        axes.tick_params(axis="x", labelsize="small")
        axes.set_ylabel("万元" if cjk_font() else "10,000 yuan")
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))

    title = "各月基金支付" if cjk_font() else "Payments per month per fund"
    return data_uri(png(draw, title, size=(9, 3.6)))


def render_statement(statement: pd.DataFrame, kinds: pd.DataFrame, per_month: pd.DataFrame, heading: Heading) -> str:
    """The page: ``statement`` from :func:`settlement.statement.totals` (named or not), ``kinds``
    from :func:`settlement.statement.by_kind`, ``per_month`` from :func:`settlement.statement.monthly`."""
    fund_rows = statement[statement["dimension"] == "fund"].to_dict("records")
    names = {str(r["value"]): _name(r) for r in fund_rows} if "name" in statement.columns else {}
    grand = statement[statement["dimension"] == "all"].to_dict("records")[0]
    return _env.get_template("statement.html").render(
        h=heading,
        issued=heading.issued or date.today().isoformat(),
        overview=_totals_row(grand),
        funds=_funds(kinds, names),
        kinds=[KIND_NAMES[c] for c in COUNTS],
        sections=[(title, _section(statement, d)) for d, title in SECTIONS.items()],
        chart=_chart(per_month, names) if len(per_month) else None,
    )
