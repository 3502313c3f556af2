"""A simulation's files: every table (CSV or Parquet, money as exact yuan); the charts are
:mod:`settlement.simulation.figures`, the HTML report :mod:`settlement.simulation.page` — money in
yuan (two decimals, from the fen in the tables), ratios in percent.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from settlement import io
from settlement.money import yuan_grouped
from settlement.simulation.blocks import PERSON_MONEY
from settlement.simulation.outcomes import PERCENTILES

if TYPE_CHECKING:
    from settlement.simulation.run import Simulation

MONEY: dict[str, tuple[str, ...]] = {
    "summary": PERSON_MONEY,
    "outlay": ("amount",),
    "ratios": PERSON_MONEY,
    "oop": ("mean", *(f"p{p}" for p in PERCENTILES), "max"),
    "winners": ("gain", "loss"),
    "supplementary": ("premium", "paid", "second_payout_due"),
    "deciles": ("baseline_mean", "mean", "change"),
    "stylised": ("bill", "fund_pay_sumamt", "psn_part_amt"),
}
"""Columns of int64 fen per table (written as exact yuan)."""
RATIOS = {"reimbursement_ratio", "loss_ratio", "loss_ratio_floor", "share_warned"}


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


def cell(table: str, column: str, value: Any) -> str:
    """One value as shown: fen → yuan with two decimals, ratios in percent, floats with two decimals."""
    if column in MONEY.get(table, ()):
        return yuan_grouped(int(value))
    if column in RATIOS or column.startswith("share_above_"):
        return f"{float(value) * 100:.2f}%"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return html.escape(str(value))
