"""Every batch command through a pipe at 80 columns: no figure cut (``14,00…``), the verdict on one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from settlement.terminal import fitted

ROOT = Path(__file__).parents[2]
SAMPLE = str(ROOT / "examples" / "sample-claims.csv")
APPLICANTS = str(ROOT / "examples" / "applicants.csv")
CASES = ROOT / "tests" / "cases" / "reconcile"


def _piped(*args: str) -> str:
    """``medrelief ARGS`` with its stdout a pipe and COLUMNS=80, as in a log or ``| less``."""
    command = [sys.executable, "-c", "from api.cli import app; app()", *args]
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("settle", SAMPLE, "--policy", "demo", "--out", "{tmp}/r.csv"),
        ("second-payout", SAMPLE, "--policy", "nantong", "--insured", "113400", "--out", "{tmp}/s.csv"),
        ("post-hoc", SAMPLE, "--policy", "beijing", "--applicants", APPLICANTS, "--out", "{tmp}/p.csv"),
        ("reconcile", str(CASES / "ours.csv"), str(CASES / "theirs.csv"), "--mapping", str(CASES / "mapping.yaml")),
        ("policies",),
        ("policy", "show", "demo", "--date", "2025-06-01"),
        ("simulate", "--persons", "300", "--replications", "1", "--out", "{tmp}/sim"),
    ],
    ids=lambda a: a[0] if a[0] != "policy" else "policy show",
)
def test_no_figure_is_cut_at_80_columns(args: tuple[str, ...], tmp_path: Path) -> None:
    printed = _piped(*(a.format(tmp=tmp_path) for a in args))
    assert printed.strip()
    assert "…" not in printed, printed
    assert max(len(line) for line in printed.splitlines()) <= 80 or args[0] == "reconcile", printed
    if args[0] == "reconcile":
        (verdict,) = [line for line in printed.splitlines() if line.startswith(("PASS", "FAIL"))]
        assert verdict.endswith("psn_part_amt")  # the whole verdict, with what was compared, on one line


def test_a_table_too_wide_is_turned_on_its_side() -> None:
    table = Table(title="accounts")
    for column in ("year", "premium", "second payout"):
        table.add_column(column, no_wrap=True)
    table.add_row("2024", "14,000,364.00", "12,760,581.65")
    narrow, wide = Console(width=36), Console(width=200)
    assert fitted(table, wide) is table
    turned = fitted(table, narrow)
    assert [str(c.header) for c in turned.columns] == ["year", "2024"]
    assert [str(c) for c in turned.columns[1].cells] == ["14,000,364.00", "12,760,581.65"]
    assert fitted(table, Console(width=20)) is table  # on its side it would not fit either
