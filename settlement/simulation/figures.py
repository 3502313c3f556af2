"""The report's charts — what each reform changes, never only absolute totals (reforms that differ
by under 1% would look identical): each fund's and each category's outlay against the baseline
(bars; whiskers from the 5th to the 95th percentile of the difference over the replications), the
in-policy reimbursement ratio by visit type in percentage points, the mean change in out of
pocket by out-of-pocket decile (the top 1% apart), and out-of-pocket curves over bill size for
the stylised cases, per category. Names from the baseline policy when a CJK font can draw them
(:class:`Labels`), else the ids."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from settlement.charts import cjk_font, label, png
from settlement.simulation.outcomes import ALL
from settlement.simulation.reform import by_category, by_fund
from tiers.reforms import BASELINE
from tiers.vocabulary import Names

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from settlement.simulation.run import Simulation


@dataclass(frozen=True)
class Labels:
    """Chart labels from the baseline policy's names, or the ids where no CJK font can draw them."""

    names: Names

    def fund(self, output: str) -> str:
        return label(self.names.layer(output), output)

    def category(self, code: str) -> str:
        return label(self.names.category(code), code)

    def visit_type(self, code: str) -> str:
        return label(self.names.visit_type(code), code)

    @staticmethod
    def says(chinese: str, english: str) -> str:
        return chinese if cjk_font() else english


def charts(simulation: Simulation, labels: Labels) -> dict[str, bytes]:
    """Every chart of the report, as PNG bytes by name (``charts/<name>.png``)."""
    tables, says = simulation.measures, labels.says
    ratios = tables.ratios[(tables.ratios["category"] == ALL) & (tables.ratios["replication"] == 0)]
    ratios = ratios[ratios["med_type"] != ALL]
    points = ratios.pivot_table(index="med_type", columns="scenario", values="reimbursement_ratio", sort=False)
    points = (points.drop(columns=BASELINE).sub(points[BASELINE], axis=0) * 100).rename(index=labels.visit_type)
    first = tables.deciles[tables.deciles["replication"] == 0]
    funds, categories = by_fund(tables.outlay), by_category(tables.ratios)
    return {
        "changes_by_fund": png(lambda ax: _changes(ax, funds, "fund", labels.fund),
                               says("各基金支出的变化（对基线）", "Change in each fund's outlay against the baseline")),
        "changes_by_category": png(lambda ax: _changes(ax, categories, "category", labels.category),
                                   says("各类人员基金支付的变化", "Change in what the funds pay, per category")),
        "ratio_points": png(lambda ax: _points(ax, points),
                            says("政策范围内报销比例的变化", "Change in the in-policy reimbursement ratio")),
        "deciles": png(lambda ax: _deciles(ax, first),
                       says("按基线自付十分位的人均自付变化", "Mean change in out of pocket, by out-of-pocket decile")),
        "out_of_pocket_curves": _curves(simulation.stylised, labels),
    }  # fmt: skip


def _changes(axes: Axes, frame: pd.DataFrame, key: str, name: Callable[[str], str]) -> None:
    """Grouped bars of each reform's difference (10,000 yuan), whiskers from p05 to p95."""
    keys, scenarios = list(dict.fromkeys(frame[key])), list(dict.fromkeys(frame["scenario"]))
    width = 0.8 / max(len(scenarios), 1)
    for i, scenario in enumerate(scenarios):
        part = frame[frame["scenario"] == scenario].set_index(key).reindex(keys)
        value = part["difference"].to_numpy(float) / 1_000_000
        spread = [value - part["p05"].to_numpy(float) / 1_000_000, part["p95"].to_numpy(float) / 1_000_000 - value]
        x = [k + (i - (len(scenarios) - 1) / 2) * width for k in range(len(keys))]
        axes.bar(x, value, width, yerr=spread, capsize=2, label=scenario)
    names = [textwrap.fill(name(k), 14) for k in keys]
    axes.set_xticks(range(len(keys)), names, rotation=30, ha="right", fontsize="small")
    _zero(axes, "10,000 yuan")


def _points(axes: Axes, points: pd.DataFrame) -> None:
    points.plot.bar(ax=axes, rot=0)
    _zero(axes, "percentage points")


def _deciles(axes: Axes, frame: pd.DataFrame) -> None:
    shown = frame.pivot_table(index="group", columns="scenario", values="change", sort=False) / 100
    shown.plot(ax=axes, marker="o")
    axes.set_xticks(range(len(shown.index)), list(shown.index), fontsize="small")
    _zero(axes, "yuan per person-year")


def _zero(axes: Axes, unit: str) -> None:
    axes.axhline(0, color="black", linewidth=0.6)
    axes.set_ylabel(unit)
    axes.set_xlabel("")
    axes.legend(fontsize="small")


def _curves(frame: pd.DataFrame, labels: Labels) -> bytes:
    """Small multiples: per category, out of pocket (yuan) over the bill (yuan, log scale), a line per scenario."""
    categories = list(dict.fromkeys(frame["category"]))
    columns = min(len(categories), 4)
    rows = -(-len(categories) // columns)

    def draw(axes: Axes) -> None:
        figure = axes.figure
        axes.remove()
        grid = figure.subplots(rows, columns, squeeze=False, sharex=True)
        for cell, category in zip(grid.flat, categories, strict=False):
            part = frame[frame["category"] == category]
            for scenario, line in part.groupby("scenario", sort=False):
                cell.plot(line["bill"] / 100, line["psn_part_amt"] / 100, label=str(scenario))
            cell.set_xscale("log")
            cell.set_title(labels.category(category), fontsize="small")
            cell.tick_params(labelsize="x-small")
        for spare in list(grid.flat)[len(categories) :]:
            spare.set_visible(False)
        grid.flat[0].legend(fontsize="x-small")

    title = labels.says(
        "典型病例：自付（元）随医疗费（元，对数轴）", "Stylised cases: out of pocket over the bill (yuan, log)"
    )
    return png(draw, title, size=(10, 2.4 * rows))
