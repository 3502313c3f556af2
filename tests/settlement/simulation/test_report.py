"""``medrelief simulate`` as a user runs it: files exist, charts are drawn, the report shows the tables' numbers."""

from __future__ import annotations

import subprocess
import sys
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
    tables.add("person_deltas")
    assert {p.stem for p in run.glob("*.csv")} == tables
    assert len(pd.read_csv(run / "person_deltas.csv")) == 3000
    for name in ("outlay", "ratios", "out_of_pocket", "caps"):
        image = matplotlib.image.imread(run / "charts" / f"{name}.png")
        assert image.shape[0] > 200
        assert image[..., :3].std() > 0.05, f"{name}.png looks blank"


def _report_table(run: Path, name: str) -> pd.DataFrame:
    text = (run / "report.html").read_text(encoding="utf-8")
    return pd.read_html(StringIO(text), attrs={"id": name}, thousands=",")[0]


def test_the_report_shows_the_numbers_of_the_tables(run: Path) -> None:
    summary = pd.read_csv(run / "summary.csv", dtype={"medfee_sumamt": str})
    shown = _report_table(run, "summary")
    first = summary[summary["replication"] == 0].reset_index(drop=True)
    assert shown["scenario"].tolist() == first["scenario"].tolist()
    for column in ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay", "fund_pay_sumamt", "psn_part_amt"):
        assert shown[column].round(2).tolist() == first[column].round(2).tolist(), column
    ratios = shown["reimbursement_ratio"].str.rstrip("%").astype(float)
    assert ratios.tolist() == (first["reimbursement_ratio"] * 100).round(2).tolist()
    supp = pd.read_csv(run / "supplementary.csv")
    shown_supp = _report_table(run, "supplementary")
    assert shown_supp["second_payout_due"].tolist() == supp.loc[supp["replication"] == 0, "second_payout_due"].tolist()
    bands = pd.read_csv(run / "bands.csv")
    shown_bands = _report_table(run, "bands")
    assert shown_bands["mean"].round(2).tolist() == bands["mean"].round(2).tolist()


def test_the_report_names_cohort_seed_and_reforms(run: Path) -> None:
    text = (run / "report.html").read_text(encoding="utf-8")
    assert "3,000 persons" in text
    assert "seed 4" in text
    assert "layers[critical_illness].rules[*].bands[*].ratio add 0.05" in text
    assert text.count("data:image/png;base64,") == 4


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
