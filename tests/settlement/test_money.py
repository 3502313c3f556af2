"""The one rounding policy is the one the engine uses: change it, and the golden results change."""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from settlement.money import fen_of, parse_signed_yuan, parse_yuan, yuan_grouped, yuan_number, yuan_of, yuan_text

ROOT = Path(__file__).parents[2]
ROUNDING = "    return (scaled + HALF) // RATIO_SCALE\n"
PROBE = """
import sys
from settlement.engine import settle
from tests.helpers import claims_frame, load_golden, result_in_yuan
from tiers.loader import load_policy
case = load_golden(__import__("pathlib").Path(sys.argv[1]))
got = result_in_yuan(settle(claims_frame(case["rows"]), load_policy(case["policy"])))
import settlement.money
assert settlement.money.__file__.startswith(sys.argv[2]), settlement.money.__file__
print(got["E1"]["maf_pay"])
"""


def test_changing_the_rounding_in_money_changes_a_golden_result(tmp_path: Path) -> None:
    """A copy of the engine whose ``money.round_half_up`` truncates instead settles the Beijing E1
    case (救助 42,688.75 × 85% = 36,285.4375) to 36,285.43, not the hand-checked 36,285.44: the
    compiled scan rounds through that one function (compiled afresh in the copy)."""
    for package in ("settlement", "tiers", "tests"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    money = tmp_path / "settlement" / "money.py"
    text = money.read_text(encoding="utf-8")
    assert text.count(ROUNDING) == 1
    money.write_text(text.replace(ROUNDING, "    return scaled // RATIO_SCALE\n"), encoding="utf-8")
    golden = ROOT / "tests" / "cases" / "golden" / "beijing_e1.yaml"
    run = [sys.executable, "-c", PROBE, str(golden)]
    truncated_run, original_run = [*run, str(tmp_path)], [*run, str(ROOT)]
    truncated = subprocess.run(truncated_run, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=600)
    assert truncated.stdout.split() == ["36285.43"]
    original = subprocess.run(original_run, cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    assert original.stdout.split() == ["36285.44"]


def test_yuan_text_is_parsed_exactly_and_only_in_ascii_digits() -> None:
    fen, bad, why = parse_yuan(pd.Series(["99999999999.99", "100000000000.01", "0.1", "1_000", "١٢", "1e3", " 7 "]))
    assert fen[[0, 2, 6]].tolist() == [9_999_999_999_999, 10, 700]
    assert bad.tolist() == [1, 3, 4, 5]
    assert why[0] == "above 100000000000 yuan"
    signed, bad, _ = parse_signed_yuan(pd.Series(["-0.01", "--1"]))
    assert signed[0] == -1
    assert bad.tolist() == [1]


@pytest.mark.parametrize("fen", [0, 1, 5, 99, 100, 123456, -75, 9_999_999_999_999])
def test_conversions_round_trip_exactly(fen: int) -> None:
    assert fen_of(yuan_of(fen)) == fen
    assert fen_of(yuan_text(fen)) == fen
    assert Decimal(repr(yuan_number(fen))) == yuan_of(fen)
    assert Decimal(yuan_grouped(fen).replace(",", "")) == yuan_of(fen)


def test_amounts_in_capitals_as_a_slip_writes_them() -> None:
    """人民币大写, hand-read: inner zeros once, 整 for whole yuan, 零 before fen without jiao."""
    from settlement.money import yuan_in_capitals

    cases = {
        230375: "贰仟叁佰零叁元柒角伍分", 102043: "壹仟零贰拾元肆角叁分", 10000: "壹佰元整", 10005: "壹佰元零伍分",
        1000500: "壹万零伍元整", 10000000: "壹拾万元整", 100010000: "壹佰万零壹佰元整",
        10001000000: "壹亿零壹万元整", 50: "伍角", 5: "伍分", 0: "零元整", 1010: "壹拾元壹角",
        -230375: "负贰仟叁佰零叁元柒角伍分",
    }  # fmt: skip
    assert {fen: yuan_in_capitals(fen) for fen in cases} == cases
