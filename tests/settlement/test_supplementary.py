"""The supplementary layer's accounting: loss ratio, second payout (二次赔付) and its allocation."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.supplementary import account, allocate_equal, remaining_selfpay

ROOT = Path(__file__).parents[2]
FLOOR = Decimal("0.92")


def test_floor_reached_nothing_due() -> None:
    # 10 insured × 123.46 = 1,234.60 yuan of premium; 92% = 1,135.832 → 1,135.83; paid 1,200.00.
    result, shares = account(2024, 10, 12346, FLOOR, 120_000, np.array([5_000, 0]))
    assert (result.premium, result.due, result.allocated, result.undistributed) == (123_460, 0, 0, 0)
    assert result.loss_ratio == Decimal(120_000) / Decimal(123_460)
    assert shares.tolist() == [0, 0]


def test_floor_not_reached_pro_rata_largest_remainder() -> None:
    # due = 1,135.83 − 1,000.00 = 135.83 yuan; remaining 100 / 50 / 0 / 30 yuan (180 in all):
    # 13,583 × (10,000, 5,000, 0, 3,000) / 18,000 = 7,546.11 / 3,773.06 / 0 / 2,263.83 fen →
    # floors 7,546 + 3,773 + 0 + 2,263 = 13,582; the one fen left goes to the largest remainder (2,263.83).
    result, shares = account(2024, 10, 12346, FLOOR, 100_000, np.array([10_000, 5_000, 0, 3_000]))
    assert result.due == 13_583
    assert shares.tolist() == [7_546, 3_773, 0, 2_264]
    assert (result.allocated, result.undistributed) == (13_583, 0)


def test_nobody_eligible_or_too_little_to_take() -> None:
    nobody, shares = account(2024, 10, 12346, FLOOR, 100_000, np.array([0, 0]))
    assert (nobody.due, nobody.allocated, nobody.undistributed) == (13_583, 0, 13_583)
    assert shares.tolist() == [0, 0]
    capped, shares = account(2024, 10, 12346, FLOOR, 100_000, np.array([100, 200]))
    assert shares.tolist() == [100, 200]
    assert capped.undistributed == 13_283


def test_cli_allocates_no_more_than_each_remaining(tmp_path: Path) -> None:
    out = tmp_path / "second.csv"
    command = [sys.executable, "-c", "from settlement.cli import app; app()", "second-payout"]
    claims = ROOT / "tests" / "cases" / "demo-claims.csv"
    done = subprocess.run(
        [*command, str(claims), "--insured", "3000", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={"COLUMNS": "220", "PATH": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = pd.read_csv(out, dtype=str)
    fen = {c: rows[c].map(lambda v: int(Decimal(v) * 100)) for c in ("remaining", "second_payout")}
    assert (fen["second_payout"] <= fen["remaining"]).all()
    assert (fen["second_payout"] > 0).any()
    for year, group in rows.assign(share=fen["second_payout"]).groupby("year"):
        total = f"{Decimal(int(group['share'].sum())) / 100:,.2f}"
        assert total in done.stdout, (year, total, done.stdout)


def _slow_equal(amount: int, remaining: list[int]) -> list[int]:
    """The obvious reading of equal shares: one fen at a time to whoever has least and can take more
    (the first among equals)."""
    shares = [0] * len(remaining)
    for _ in range(min(amount, sum(remaining))):
        open_ = [i for i, r in enumerate(remaining) if shares[i] < r]
        shares[min(open_, key=lambda i: (shares[i], i))] += 1
    return shares


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 400), st.lists(st.integers(0, 120), min_size=1, max_size=8))
def test_equal_shares_equal_the_one_fen_at_a_time_reading(amount: int, remaining: list[int]) -> None:
    assert allocate_equal(amount, np.array(remaining, np.int64)).tolist() == _slow_equal(amount, remaining)


def test_the_policy_chooses_how_the_second_payout_is_shared() -> None:
    """A: a covered claim with 100 left and another claim with 900 left; B: 1,000 left on claims the
    layer did not cover. 500 due: pro rata to all remaining 250 / 250; to the covered remaining A's
    100 only (never more); equal shares 250 / 250."""
    frame = pd.DataFrame(
        {"person_id": ["A", "A", "B"], "year": 2025, "inscp_scp_amt": [1_100, 900, 1_000], "hifp_pay": 0,
         "hifmi_pay": 0, "maf_pay": 0, "supp_pay": [1_000, 0, 0]}
    )  # fmt: skip
    due = {}
    for allocation in ("remaining_self_pay", "covered_self_pay", "equal_shares"):
        people = remaining_selfpay(frame, allocation)
        _, shares = account(2025, 1, 500, Decimal(1), 0, people["remaining"].to_numpy(np.int64), allocation)
        due[allocation] = dict(zip(people["person_id"], shares.tolist(), strict=True))
    assert due == {
        "remaining_self_pay": {"A": 250, "B": 250},
        "covered_self_pay": {"A": 100, "B": 0},
        "equal_shares": {"A": 250, "B": 250},
    }
