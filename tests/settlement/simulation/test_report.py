"""``medrelief simulate`` as a user runs it: files exist, charts are drawn, the report shows the tables' numbers."""

from __future__ import annotations

import hashlib
import html
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from tests.helpers import CASES

ROOT = Path(__file__).parents[3]


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from settlement.cli import app; app()", "simulate", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("simulation")
    done = _simulate("--persons", "3000", "--replications", "2", "--seed", "4", "--out", str(out), "--person-deltas")
    assert done.returncode == 0, done.stderr
    assert "4 scenarios × 2 replication(s)" in done.stderr
    assert "baseline" in done.stdout
    return out


def test_every_table_and_chart_is_written(run: Path) -> None:
    tables = {"summary", "outlay", "ratios", "oop", "caps", "winners", "supplementary", "warnings", "bands"}
    tables |= {"deciles", "stylised", "person_deltas"}
    assert {p.stem for p in run.glob("*.csv")} == tables
    assert len(pd.read_csv(run / "person_deltas.csv")) == 3000
    for name in ("changes_by_fund", "changes_by_category", "ratio_points", "deciles", "out_of_pocket_curves"):
        image = matplotlib.image.imread(run / "charts" / f"{name}.png")
        assert image.shape[0] > 200
        assert image[..., :3].std() > 0.05, f"{name}.png looks blank"


def _cells(run: Path, name: str) -> pd.DataFrame:
    """A report table as text: rows by their first cell, columns by the header."""
    text = (run / "report.html").read_text(encoding="utf-8")
    # thousands: a character the page never uses, so that figures stay text as printed
    frame = pd.read_html(StringIO(text), attrs={"id": name}, thousands="\u2009")[0].astype(str)
    return frame.set_index(frame.columns[0])


def _first(text: object) -> str:
    """A cell's figure without the band printed below it."""
    return str(text).split(" ")[0]


def test_the_report_shows_the_numbers_of_the_tables(run: Path) -> None:
    """The summary, turned (scenarios as columns), shows replication 0 to the fen; the headline's
    change in fund outlay is the summary's difference; the bands are the bands file's."""
    summary = pd.read_csv(run / "summary.csv", dtype=str).query("replication == '0'").set_index("scenario")
    shown = _cells(run, "summary")
    assert "replication 0 of 2" in (run / "report.html").read_text(encoding="utf-8")
    for label, column in (("基本医保统筹基金", "hifp_pay"), ("基金支付合计 funds", "fund_pay_sumamt"),
                          ("个人负担 persons", "psn_part_amt")):  # fmt: skip
        assert [_first(v).replace(",", "") for v in shown.loc[label]] == summary[column].tolist(), label
    headline = _cells(run, "changes")
    funds = summary["fund_pay_sumamt"].map(Decimal)
    for reform in ("ci_plus5", "deductible_halved", "supp_adds_monitored"):
        difference = funds[reform] - funds["baseline"]
        assert _first(headline.loc[reform].iloc[0]).replace(",", "") == f"{difference:+}".replace("+-", "-")
    bands = pd.read_csv(run / "bands.csv")
    mean = bands[(bands["metric"] == "fund_pay_sumamt") & (bands["scenario"] == "baseline")]["mean"].iloc[0]
    assert _first(_cells(run, "bands").loc["fund_pay_sumamt (yuan)", "baseline"]) == f"{mean:,.2f}"


def test_the_report_names_cohort_seed_and_reforms_and_says_how_to_reproduce(run: Path) -> None:
    text = (run / "report.html").read_text(encoding="utf-8")
    assert "3,000 persons" in text
    assert "seed 4" in text
    assert "layers[critical_illness].rules[*].bands[*].ratio add 0.05" in text
    assert text.count("data:image/png;base64,") == 5
    scenarios = ROOT / "settlement" / "simulation" / "defaults" / "scenarios.yaml"
    assert f"sha256:{hashlib.sha256(scenarios.read_bytes()).hexdigest()}" in text
    command = html.unescape(text.split("<pre>")[1].split("</pre>")[0])
    assert "--seed 4 --replications 2" in command
    assert "--persons 3000" in command


def test_real_claims_and_clear_errors(tmp_path: Path) -> None:
    done = _simulate("--claims", str(CASES / "demo-claims.csv"), "--out", str(tmp_path))
    assert done.returncode == 2
    assert "a cohort is one year" in done.stderr
    bad = tmp_path / "scenarios.yaml"
    bad.write_text("baseline: demo\nscenarios:\n  - id: x\n    changes: [{path: 'layers[nope].cap', set: 1}]\n")
    done = _simulate("--scenarios", str(bad), "--out", str(tmp_path))
    assert done.returncode == 2
    assert "scenario x" in done.stderr
    assert "no item with that id" in done.stderr
