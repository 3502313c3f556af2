"""A simulation's files: every table (CSV or Parquet, money as exact yuan), PNG charts, one HTML report.

The report is self-contained (charts inline) and shows the same tables that are written as
files: money in yuan (two decimals, from the fen in the tables), ratios in percent.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from settlement import io
from settlement.money import yuan_grouped
from settlement.simulation.blocks import PERSON_MONEY
from settlement.simulation.outcomes import ALL, PERCENTILES
from tiers.codes import PAYMENT_COLUMNS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from settlement.simulation.run import Simulation

MONEY: dict[str, tuple[str, ...]] = {
    "summary": PERSON_MONEY,
    "outlay": ("amount",),
    "ratios": PERSON_MONEY,
    "oop": ("mean", *(f"p{p}" for p in PERCENTILES), "max"),
    "winners": ("gain", "loss"),
    "supplementary": ("premium", "paid", "second_payout_due"),
}
"""Columns of int64 fen per table (written as exact yuan)."""
RATIOS = {"reimbursement_ratio", "loss_ratio", "loss_ratio_floor", "share_warned"}
SHOWN = {
    "summary": "Outlay per scenario",
    "ratios": "In-policy reimbursement ratio by visit type (all categories)",
    "oop": "Out of pocket per person-year (psn_part_amt), all persons",
    "caps": "Persons reaching each cap",
    "winners": "Winners and losers against the baseline (all persons)",
    "supplementary": "Supplementary layer: premium, payouts, loss ratio, second payout",
    "warnings": "Early warning (预警监测): persons warned per category, kept out of or pushed in by each reform",
    "bands": "Monte Carlo: mean and 5th–95th percentile over replications",
}


def write_tables(simulation: Simulation, directory: Path, suffix: str = ".csv", deltas: bool = False) -> list[Path]:
    """Every table of the run as ``directory/<table><suffix>``; per-person deltas when asked."""
    written = []
    tables = simulation.tables()
    if deltas:
        tables["person_deltas"] = simulation.deltas
    for name, frame in tables.items():
        path = directory / f"{name}{suffix}"
        money = MONEY.get(name, ())
        if name == "person_deltas":
            money = tuple(c for c in frame.columns if c.endswith(("_delta", "_amt")))
        io.write_table(frame, path, money)
        written.append(path)
    return written


def shown(simulation: Simulation) -> dict[str, pd.DataFrame]:
    """The tables as the report shows them: replication 0 in detail, the bands over all replications."""
    tables = simulation.tables()
    first = {
        name: frame[frame["replication"] == 0].drop(columns="replication")
        for name, frame in tables.items()
        if name != "bands"
    }
    views = {
        "summary": first["summary"],
        "ratios": first["ratios"][first["ratios"]["category"] == ALL],
        "oop": first["oop"][first["oop"]["category"] == ALL],
        "caps": first["caps"]
        .pivot_table(index="cap", columns="scenario", values="persons", aggfunc="sum", sort=False)
        .reset_index(),
        "winners": first["winners"][first["winners"]["category"] == ALL],
        "supplementary": first["supplementary"],
        "warnings": first["warnings"],
        "bands": tables["bands"],
    }
    return {name: frame.reset_index(drop=True) for name, frame in views.items()}


def cell(table: str, column: str, value: Any) -> str:
    """One value as shown: fen → yuan with two decimals, ratios in percent, floats with two decimals."""
    if column in MONEY.get(table, ()):
        return yuan_grouped(int(value))
    if column in RATIOS or column.startswith("share_above_"):
        return f"{float(value) * 100:.2f}%"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return html.escape(str(value))


def _table_html(name: str, frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    columns = [[cell(name, str(c), v) for v in frame[c].tolist()] for c in frame.columns]
    rows = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in zip(*columns, strict=True))
    return f"<h2>{html.escape(SHOWN[name])}</h2><table id='{name}'><tr>{head}</tr>{rows}</table>"


def _figure(draw: Callable[[Axes], None], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4.5))
    draw(axes)
    axes.set_title(title)
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    plt.close(figure)
    return buffer.getvalue()


def charts(simulation: Simulation) -> dict[str, bytes]:
    """PNG charts: outlay per layer, reimbursement ratio by visit type, out of pocket, caps reached."""
    views = shown(simulation)
    outlay = views["summary"].set_index("scenario")[list(PAYMENT_COLUMNS)] / 100 / 10_000
    ratios = views["ratios"].pivot_table(
        index="med_type", columns="scenario", values="reimbursement_ratio", aggfunc="sum", sort=False
    )
    ratios = ratios * 100
    oop_columns = [f"p{p}" for p in PERCENTILES]
    oop = views["oop"].set_index("scenario")[oop_columns] / 100
    caps = views["caps"].set_index("cap")
    return {
        "outlay": _figure(lambda ax: _bars(ax, outlay, "10,000 yuan (wan yuan)", stacked=True), "Outlay per layer"),
        "ratios": _figure(
            lambda ax: _bars(ax, ratios, "% of the in-policy amount"), "Reimbursement ratio by visit type"
        ),
        "out_of_pocket": _figure(lambda ax: _bars(ax, oop, "yuan per person-year"), "Out of pocket: percentiles"),
        "caps": _figure(lambda ax: _bars(ax, caps, "persons", horizontal=True), "Persons reaching each cap"),
    }


def _bars(axes: Axes, frame: pd.DataFrame, unit: str, stacked: bool = False, horizontal: bool = False) -> None:
    if horizontal:
        frame.plot.barh(ax=axes, stacked=stacked)
        axes.set_xlabel(unit)
    else:
        frame.plot.bar(ax=axes, stacked=stacked, rot=0)
        axes.set_ylabel(unit)
    axes.legend(fontsize="small")


def render(simulation: Simulation, images: dict[str, bytes], title: str, notes: list[str]) -> str:
    """The HTML report: notes (cohort, seed, scenarios), the charts inline, the tables."""
    figures = "".join(
        f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'></figure>"
        for name, png in images.items()
    )
    tables = "".join(_table_html(name, frame) for name, frame in shown(simulation).items())
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td{text-align:right;padding:2px 8px}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><ul>{items}</ul>{figures}{tables}</body></html>"
    )
