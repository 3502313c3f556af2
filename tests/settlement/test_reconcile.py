"""Reconciliation: every outcome with hand-checked rows, totals and the verdict; the CLI with a mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from settlement.reconcile import ReconcileError, Side, reconcile

CASES = Path(__file__).parents[1] / "cases" / "reconcile"
ROOT = Path(__file__).parents[2]


def _side(name: str, rows: list[tuple[str, bool, int]]) -> Side:
    keys = np.array([r[0] for r in rows], dtype=object)
    return Side(
        name, keys, np.array([r[1] for r in rows], bool), {"hifp_pay": np.array([r[2] for r in rows], np.int64)}
    )


def test_each_outcome_once() -> None:
    ours = _side("ours", [("A", False, 100), ("B", False, 200), ("C", False, 300), ("D", True, -50)])
    theirs = _side("theirs", [("D", False, -50), ("B", False, 201), ("A", False, 100), ("E", False, 7)])
    result = reconcile(ours, theirs, ("hifp_pay",))
    report = result.report.set_index("key")
    assert result.counts == {
        "matched": 1,
        "amount_differs": 1,
        "only_ours": 1,
        "only_theirs": 1,
        "reversed_one_side": 1,
    }
    assert report.loc["A", "outcome"] == "matched"
    assert (report.loc["B", "field"], report.loc["B", "ours"], report.loc["B", "theirs"]) == ("hifp_pay", 200, 201)
    assert report.loc["C", "outcome"] == "only_ours"
    assert (report.loc["D", "outcome"], report.loc["D", "note"]) == ("reversed_one_side", "reversed in ours only")
    assert report.loc["E", "outcome"] == "only_theirs"
    assert result.totals.to_dict("records") == [{"field": "hifp_pay", "ours": 550, "theirs": 258, "difference": 292}]
    assert not result.passed
    assert result.summary_line().startswith("FAIL: 5 keys — matched 1, amount_differs 1")


def test_identical_sides_pass() -> None:
    rows = [("A", False, 100), ("B", True, -100)]
    result = reconcile(_side("ours", rows), _side("theirs", rows[::-1]), ("hifp_pay",))
    assert result.passed
    assert result.counts["matched"] == 2


def test_duplicate_keys_are_refused_with_examples() -> None:
    with pytest.raises(ReconcileError, match=r"theirs: 1 duplicate key\(s\), e.g. A"):
        reconcile(_side("ours", [("A", False, 1)]), _side("theirs", [("A", False, 1), ("A", False, 1)]), ("hifp_pay",))


def _medrelief(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from settlement.cli import app; app()", *args]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, env={"COLUMNS": "200", "PATH": ""}
    )


def test_cli_with_the_insurers_column_names(tmp_path: Path) -> None:
    """Hand-checked: S001 matches; S002 differs in hifmi_pay (+0.01) and psn_part_amt (−0.01); S003 only
    ours; S004 reversed in ours only; S005 matches; S006 only theirs."""
    report = tmp_path / "report.csv"
    args = ["reconcile", str(CASES / "ours.csv"), str(CASES / "theirs.csv"), "--mapping", str(CASES / "mapping.yaml")]
    done = _medrelief(*args, "--out", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL: 6 keys — matched 2, amount_differs 1, only_ours 1, only_theirs 1, reversed_one_side 1" in done.stdout
    rows = pd.read_csv(report, dtype=str, keep_default_na=False)
    differs = rows[rows.outcome == "amount_differs"][["key", "field", "ours", "theirs"]].to_numpy().tolist()
    assert differs == [["S002", "hifmi_pay", "5044.00", "5044.01"], ["S002", "psn_part_amt", "1020.43", "1020.42"]]
    assert rows.set_index("key").loc["S004", "note"] == "reversed in ours only"
    assert set(rows[rows.outcome == "amount_differs"]["note"]) == {"rounding: one fen apart"}
    assert "hifmi_pay" in done.stdout


def test_cli_pass_and_bad_input(tmp_path: Path) -> None:
    same = _medrelief("reconcile", str(CASES / "ours.csv"), str(CASES / "ours.csv"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "PASS: 5 keys" in same.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("setl_id,hifp_pay\nS001,12.345\n")
    refused = _medrelief("reconcile", str(CASES / "ours.csv"), str(bad))
    assert refused.returncode == 2
    assert "key S001: hifp_pay: more than two decimals" in refused.stdout + refused.stderr


def _theirs(tmp_path: Path, rename: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """The golden insurer file with a header changed or columns left out."""
    frame = pd.read_csv(CASES / "theirs.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "theirs-edited.csv"
    frame.rename(columns=rename or {}).drop(columns=list(drop)).to_csv(path, index=False)
    return path


def _reconcile(theirs: Path, *options: str) -> subprocess.CompletedProcess[str]:
    mapping = ("--mapping", str(CASES / "mapping.yaml"))
    return _medrelief("reconcile", str(CASES / "ours.csv"), str(theirs), *mapping, *options)


def test_a_misspelt_money_header_cannot_pass(tmp_path: Path) -> None:
    """The insurer writes ``hifmi_pya``: its amounts are neither compared nor silently skipped."""
    refused = _reconcile(_theirs(tmp_path, {"hifmi_pay": "hifmi_pya"}))
    assert refused.returncode == 2, refused.stdout
    said = refused.stdout + refused.stderr
    assert "theirs: column 'hifmi_pya' holds amounts but is not a money field" in said
    assert "hifmi_pay: in ours only" in said


def test_a_column_the_mapping_leaves_out_cannot_pass(tmp_path: Path) -> None:
    """医疗费总额 not mapped (the mapping of another insurer): refused, naming it."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        (CASES / "mapping.yaml").read_text(encoding="utf-8").replace("  医疗费总额: medfee_sumamt\n", "")
    )
    args = ["reconcile", str(CASES / "ours.csv"), str(CASES / "theirs.csv"), "--mapping", str(mapping)]
    refused = _medrelief(*args)
    assert refused.returncode == 2
    assert "theirs: column '医疗费总额' holds amounts" in refused.stdout + refused.stderr


def test_a_column_one_side_lacks_is_compared_only_when_excluded_by_name(tmp_path: Path) -> None:
    """Their file lacks maf_pay: refused; with --exclude maf_pay the verdict names it as not compared."""
    theirs = _theirs(tmp_path, drop=("maf_pay",))
    refused = _reconcile(theirs)
    assert refused.returncode == 2
    assert "maf_pay: in ours only (map the other side's column or exclude it)" in refused.stdout + refused.stderr
    done = _reconcile(theirs, "--exclude", "maf_pay")
    assert done.returncode == 1, done.stdout + done.stderr  # S002 still differs
    line = done.stdout.replace("\n", " ")
    assert (
        "compared medfee_sumamt, hifp_pay, hifmi_pay, supp_pay, psn_part_amt; not compared maf_pay (excluded)" in line
    )


def test_fields_compare_only_those_and_name_the_others(tmp_path: Path) -> None:
    """--fields hifp_pay,maf_pay: S002's differing 大病 and 个人 amounts are not compared, and said so."""
    done = _reconcile(CASES / "theirs.csv", "--fields", "hifp_pay,maf_pay")
    line = done.stdout.replace("\n", " ")
    assert "amount_differs 0" in line
    assert "compared hifp_pay, maf_pay; not compared medfee_sumamt (not among the fields asked for)" in line
    assert "hifmi_pay (not among the fields asked for)" in line
    typo = _reconcile(_theirs(tmp_path, {"hifmi_pay": "hifmi_pya"}), "--fields", "hifp_pay,maf_pay")
    assert typo.returncode == 2  # an unknown column of amounts is refused whatever --fields says
    assert "'hifmi_pya' holds amounts" in typo.stdout + typo.stderr
