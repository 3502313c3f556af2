"""The simulation report (report.html): one self-contained page an actuary reads and prints (A4).

First what each reform changes — a headline table per reform, each fund and each category against
the baseline (with the 5th–95th percentile of the difference when there are replications),
winners and losers by out-of-pocket decile, out of pocket for the stylised cases — then the
detailed tables of replication 0 (said so), the Monte Carlo bands, and how to reproduce the run.
Tables are turned so that scenarios are columns: they fit the page whatever the metrics. Names
come from the baseline policy; money is exact (fen → grouped yuan text)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from settlement.charts import cjk_font, data_uri
from settlement.money import yuan_grouped
from settlement.simulation.outcomes import ALL
from settlement.simulation.reform import by_category, by_fund, overall
from tiers.reforms import BASELINE
from tiers.vocabulary import Names

if TYPE_CHECKING:
    from settlement.simulation.run import Simulation

NO_CJK = "No CJK font is installed: the charts name funds and categories by their ids (fonts-wqy-microhei gives names)."
_env = Environment(loader=PackageLoader("settlement", "templates"), autoescape=select_autoescape(["html"]))
Cell = tuple[str, str]
"""A cell's text and, below it in small print, its band (or "")."""


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    header: Sequence[str]
    rows: list[list[Cell]]
    note: str = ""


@dataclass(frozen=True)
class Report:
    """What the page says besides the run's tables: its notes and how to reproduce it."""

    title: str
    notes: list[str]
    reproduce: list[tuple[str, str]] = field(default_factory=list)
    command: str = ""


def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "") + yuan_grouped(fen)


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _pivoted(frame: pd.DataFrame, name: Callable[[str], str], fmt: Callable[[Any], str]) -> list[list[Cell]]:
    """A pivot's rows (index → name) with its cells formatted."""
    return [[(name(str(i)), ""), *((fmt(v), "") for v in frame.loc[i].tolist())] for i in frame.index]


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def _band(row: dict[Any, Any], replications: int) -> str:
    return f"{_signed(int(row['p05']))} … {_signed(int(row['p95']))}" if replications > 1 else ""


def _against(frame: pd.DataFrame, key: str, name: Callable[[str], str], replications: int) -> list[list[Cell]]:
    """Rows by ``key``: the baseline, then each reform's difference with its band."""
    reforms = list(dict.fromkeys(frame["scenario"]))
    rows = []
    for value, part in frame.groupby(key, sort=False):
        by: dict[Any, dict[Any, Any]] = {r["scenario"]: r for r in part.to_dict("records")}
        base = int(part["baseline"].iloc[0])
        cells = [(_signed(int(by[s]["difference"])), _band(by[s], replications)) for s in reforms]
        rows.append([(name(str(value)), ""), (yuan_grouped(base), ""), *cells])
    return rows


def _headline(simulation: Simulation) -> Table:
    m, reps = simulation.measures, simulation.replications
    funds, persons = overall(m.summary, "fund_pay_sumamt"), overall(m.summary, "psn_part_amt")
    first = m.summary[m.summary["replication"] == 0].set_index("scenario")["reimbursement_ratio"].to_dict()
    winners = m.winners[(m.winners["category"] == ALL) & (m.winners["replication"] == 0)].set_index("scenario")
    rows = []
    for f, p in zip(funds.to_dict("records"), persons.to_dict("records"), strict=True):
        scenario = f["scenario"]
        ratio = float(first[scenario]) - float(first[BASELINE])
        change = f"{f['difference'] / f['baseline'] * 100:+.2f}%" if f["baseline"] else "—"
        w = winners.loc[scenario]
        rows.append([
            (str(scenario), ""), (_signed(int(f["difference"])), _band(f, reps)), (change, ""),
            (_signed(int(p["difference"])), _band(p, reps)), (f"{ratio * 100:+.2f}", ""),
            (f"{int(w['winners']):,} / {int(w['losers']):,}", ""),
        ])  # fmt: skip
    header = ["改革 reform", "基金支出变化 funds (yuan)", "变化率 change", "个人负担变化 persons (yuan)",
              "报销比例 ratio (points)", "受益 / 受损 better / worse off"]  # fmt: skip
    return Table("changes", "一、各项改革的影响 What each reform changes (against the baseline)", header, rows)


def _decile_rows(simulation: Simulation) -> Table:
    first = simulation.measures.deciles[simulation.measures.deciles["replication"] == 0]
    reforms = list(dict.fromkeys(first["scenario"]))
    rows = []
    for group, part in first.groupby("group", sort=False):
        by = part.set_index("scenario")
        base = by.iloc[0]
        cells = [
            (_signed(int(by.loc[s, "change"])), f"{int(by.loc[s, 'winners']):,} / {int(by.loc[s, 'losers']):,}")
            for s in reforms
        ]
        rows.append(
            [
                (str(group), ""),
                (f"{int(base['persons']):,}", ""),
                (yuan_grouped(int(base["baseline_mean"])), ""),
                *cells,
            ]
        )
    header = ["自付分组 group", "人数 persons", "基线人均自付 baseline mean", *reforms]
    note = "每格：人均自付变化（元），其下受益 / 受损人数。Each cell: mean change (yuan); below it, better / worse off."
    return Table(
        "deciles",
        "四、按自付十分位的受益与受损 Winners and losers by out-of-pocket decile (top 1% apart)",
        header,
        rows,
        note,
    )


def _stylised(simulation: Simulation, names: Names) -> Table:
    frame = simulation.stylised
    bills = sorted(set(frame["bill"].tolist()))
    bill = min(bills, key=lambda b: abs(b - 10_000_000))
    at = frame[frame["bill"] == bill].pivot_table(
        index="category", columns="scenario", values="psn_part_amt", sort=False
    )
    rows = [[(names.category(str(c)), ""), *((yuan_grouped(int(v)), "") for v in at.loc[c].tolist())] for c in at.index]
    caption = f"五、典型病例的个人负担 Out of pocket of a stylised inpatient stay of {yuan_grouped(bill)} yuan"
    return Table("stylised", caption, ["人员类别 category", *at.columns], rows)


def _turned(frame: pd.DataFrame, rows: Sequence[tuple[str, str, Callable[[Any], str]]]) -> list[list[Cell]]:
    """Metrics as rows, scenarios as columns (``rows``: column, label, format)."""
    return [[(label, ""), *((fmt(v), "") for v in frame[column].tolist())] for column, label, fmt in rows]


def _details(simulation: Simulation, names: Names) -> list[Table]:
    m, money = simulation.measures, lambda v: yuan_grouped(int(v))
    first = {name: frame[frame["replication"] == 0] for name, frame in m.tables().items()}
    summary = first["summary"]
    scenarios = ["", *summary["scenario"]]
    funds = [c for c in summary.columns if c.endswith("_pay")]
    summary_rows = [("persons", "人数 persons", _count), ("claims", "结算笔数 claims", _count),
                    ("medfee_sumamt", "医疗费总额 total", money), ("inscp_scp_amt", "政策范围内 in-policy", money),
                    *((c, names.layer(c), money) for c in funds), ("fund_pay_sumamt", "基金支付合计 funds", money),
                    ("psn_part_amt", "个人负担 persons", money),
                    ("reimbursement_ratio", "政策内报销比例 ratio", _percent)]  # fmt: skip
    ratios = first["ratios"][first["ratios"]["category"] == ALL]
    ratio_pivot = ratios.pivot_table(index="med_type", columns="scenario", values="reimbursement_ratio", sort=False)
    oop = first["oop"][first["oop"]["category"] == ALL].reset_index(drop=True)
    oop_rows = [
        (c, c, money if not c.startswith("share_above_") else _percent)
        for c in oop.columns
        if c not in ("scenario", "category", "persons", "replication")
    ]
    caps = first["caps"].pivot_table(index="cap", columns="scenario", values="persons", sort=False)
    supp = first["supplementary"]
    supp_rows = [("insured", "参保人数 insured", _count), ("premium", "保费 premium", money),
                 ("paid", "赔付 paid", money), ("loss_ratio", "赔付率 loss ratio", _percent),
                 ("second_payout_due", "二次赔付 second payout", money)]  # fmt: skip
    said = f"（第 0 次模拟，共 {simulation.replications} 次 replication 0 of {simulation.replications}）"
    tables = [
        Table("summary", f"六、汇总 Summary {said}", scenarios, _turned(summary, summary_rows)),
        Table("ratios", f"七、政策内报销比例 Reimbursement ratio by visit type {said}", scenarios,
              _pivoted(ratio_pivot, names.visit_type, _percent)),
        Table("oop", f"八、个人负担分布 Out of pocket per person-year {said}", scenarios, _turned(oop, oop_rows)),
        Table("caps", f"九、达到封顶线人数 Persons reaching each cap {said}", ["", *caps.columns],
              _pivoted(caps, str, _count)),
    ]  # fmt: skip
    if len(supp):
        tables.append(
            Table(
                "supplementary",
                f"十、补充保险 Supplementary layer {said}",
                ["", *supp["scenario"]],
                _turned(supp, supp_rows),
            )
        )
    return [*tables, *_warnings(first["warnings"], names, said)]


def _warnings(frame: pd.DataFrame, names: Names, said: str) -> list[Table]:
    if not len(frame):
        return []
    scenarios = list(dict.fromkeys(frame["scenario"]))
    rows = []
    for category, part in frame.groupby("category", sort=False):
        by = part.set_index("scenario")
        cells = [
            (
                f"{int(by.loc[s, 'warned']):,}",
                "" if s == BASELINE else f"−{int(by.loc[s, 'kept_out'])} / +{int(by.loc[s, 'pushed_in'])}",
            )
            for s in scenarios
        ]
        rows.append(
            [
                (names.category(str(category)) if category != ALL else "合计 all", ""),
                (f"{int(by.iloc[0]['watched']):,}", ""),
                *cells,
            ]
        )
    note = "每格：预警人数，其下较基线移出 / 新增预警区。Each cell: persons warned; below, kept out / pushed in."
    return [
        Table(
            "warnings",
            f"十一、预警监测 Early warning {said}",
            ["人员类别 category", "监测人数 watched", *scenarios],
            rows,
            note,
        )
    ]


def _bands(simulation: Simulation) -> list[Table]:
    if simulation.replications < 2:
        return []
    bands = simulation.bands
    scenarios = list(dict.fromkeys(bands["scenario"]))
    rows = []
    for (metric, unit), part in bands.groupby(["metric", "unit"], sort=False):
        by = part.set_index("scenario")
        rows.append(
            [
                (f"{metric} ({unit})", ""),
                *(
                    (f"{by.loc[s, 'mean']:,.2f}", f"{by.loc[s, 'p05']:,.2f} … {by.loc[s, 'p95']:,.2f}")
                    for s in scenarios
                ),
            ]
        )
    caption = f"十二、蒙特卡洛 Monte Carlo over {simulation.replications} replications: mean, below it p05 … p95"
    return [Table("bands", caption, ["", *scenarios], rows)]


def render(simulation: Simulation, images: dict[str, bytes], report: Report) -> str:
    names = Names(simulation.policies[BASELINE])
    m, reps = simulation.measures, simulation.replications
    reforms = [s for s in simulation.policies if s != BASELINE]
    against = ["", "基线 baseline", *reforms]
    changes = [
        _headline(simulation),
        Table("funds", "二、各基金支出 Each fund's outlay (yuan)", against,
              _against(by_fund(m.outlay), "fund", names.layer, reps)),
        Table("categories", "三、各类人员的基金支付 What the funds pay per category (yuan)",
              against, _against(by_category(m.ratios), "category", names.category, reps)),
        _decile_rows(simulation),
        _stylised(simulation, names),
    ]  # fmt: skip
    return _env.get_template("report.html").render(
        r=report, changes=changes, details=[*_details(simulation, names), *_bands(simulation)],
        images={name: data_uri(png) for name, png in images.items()},
        font_note="" if cjk_font() else NO_CJK,
        banded=reps > 1,
    )  # fmt: skip
