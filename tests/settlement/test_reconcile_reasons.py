"""A reason per difference where one can be told, and one payment matched to many settlements
(hand-made books: every number below is the sum of the rows above it)."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from settlement.io import ColumnMapping
from settlement.reconcile import Side, reconcile
from settlement.reconcile_bulk import reconcile_grouped

ROOT = Path(__file__).parents[2]


def _side(name: str, rows: list[tuple[str, int, str]]) -> Side:
    keys = np.array([r[0] for r in rows], dtype=object)
    money = {"maf_pay": np.array([r[1] for r in rows], np.int64)}
    return Side(name, keys, np.zeros(len(rows), bool), money, category=np.array([r[2] for r in rows], dtype=object))


def test_each_difference_says_why_where_it_can() -> None:
    ours = _side("ours", [("S1", 12_345, "dibao"), ("S2", 50_000, "dibao"), ("S3", 919_440, "dibao"),
                          ("S4", 700, "dibao"), ("R7/S5", 100_117, "dibao")])  # fmt: skip
    theirs = _side("theirs", [("S1", 12_346, "dibao"), ("S2", -50_000, "dibao"), ("S3", 0, "general"),
                              ("S4", 600, "dibao")])  # fmt: skip
    report = reconcile(ours, theirs, ("maf_pay",)).report.set_index("key")["note"].to_dict()
    assert report == {
        "S1": "rounding: one fen apart",
        "S2": "theirs is ours negated: a reversal booked on one side",
        "S3": "identity differs: ours dibao, theirs general",
        "S4": "",  # 100 fen apart, same identity: nothing to tell
        "R7/S5": "re-settlement adjustment of S5: not booked on their side",
    }


OURS = """setl_id,kind,institution_id,settle_date,refd_setl_flag,maf_pay,supp_pay
S1,settlement,H1,2024-03-02,0,100.00,10.00
S2,settlement,H1,2024-03-15,0,250.50,0.00
S3,settlement,H1,2024-03-20,0,49.50,5.00
S3R,reversal,H1,2024-03-20,1,-49.50,-5.00
S4,settlement,H1,2024-04-01,0,80.00,0.00
S5,settlement,H2,2024-03-05,0,12.00,1.00
"""
THEIRS = """医院,月份,救助金额,补充金额
H1,2024-03,350.50,10.00
H1,2024-04,80.01,0.00
H2,2024-03,12.00,1.00
"""
MAPPING = "columns: {医院: institution_id, 月份: settle_month, 救助金额: maf_pay, 补充金额: supp_pay}\n"


def test_one_payment_many_settlements() -> None:
    """H1 March: 100.00 + 250.50 + 49.50 − 49.50 (reversed) = 350.50 救助, 10.00 + 5.00 − 5.00 = 10.00
    补充 — one payment row; H1 April 80.00 against 80.01 (one fen); H2 March matches."""
    ours, theirs = (pd.read_csv(StringIO(t), dtype=str) for t in (OURS, THEIRS))
    mapping = ColumnMapping.model_validate({"columns": {"医院": "institution_id", "月份": "settle_month",
                                                        "救助金额": "maf_pay", "补充金额": "supp_pay"}})  # fmt: skip
    result = reconcile_grouped(ours, theirs, ("institution_id", "settle_month"), mapping)
    assert result.counts == {"matched": 2, "amount_differs": 1, "only_ours": 0, "only_theirs": 0,
                             "reversed_one_side": 0}  # fmt: skip
    report = result.report.set_index("key")
    assert report.loc["H1 | 2024-03", "note"] == "4 of ours, 1 of theirs"
    april = report.loc["H1 | 2024-04"]
    assert (april["field"], april["ours"], april["theirs"]) == ("maf_pay", 8000, 8001)
    assert april["note"] == "rounding: one fen apart; 1 of ours, 1 of theirs"
    assert result.totals.set_index("field")["difference"].to_dict() == {"maf_pay": -1, "supp_pay": 0}


def test_the_command_reconciles_by_group(tmp_path: Path) -> None:
    (tmp_path / "ours.csv").write_text(OURS, encoding="utf-8")
    (tmp_path / "theirs.csv").write_text(THEIRS.replace("80.01", "80.00"), encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    command = [sys.executable, "-c", "from settlement.cli import app; app()", "reconcile", str(tmp_path / "ours.csv"),
               str(tmp_path / "theirs.csv"), "--mapping", str(tmp_path / "mapping.yaml"),
               "--group-by", "institution_id,settle_month", "--out", str(tmp_path / "report.csv")]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS: 3 keys" in done.stdout
    notes = pd.read_csv(tmp_path / "report.csv", dtype=str).set_index("key")["note"].to_dict()
    assert notes["H1 | 2024-03"] == "4 of ours, 1 of theirs"
