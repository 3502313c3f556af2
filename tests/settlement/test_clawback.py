"""Who a re-settlement leaves owing, per person-year and fund, and what each mode asks back —
hand-checked; and the policy's clawback rules as loaded (dated, one a day, the mode in force)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from settlement.clawback import ClawbackError, balances, fund_totals, mode_on
from tiers.loader import PolicyError, load_policy

DEMO = Path(__file__).parents[2] / "tiers" / "policies" / "demo.yaml"
ADJUSTMENTS = pd.DataFrame(
    [
        # P's 低保 revoked: two claims' assistance taken back (−980,550 and −289,800 fen), 大病 −498,500
        ("P", 2024, "maf_pay", -980_550),
        ("P", 2024, "maf_pay", -289_800),
        ("P", 2024, "hifmi_pay", -498_500),
        # Q: one fund pays less on one claim, more on another: only the net is owed (−10,000 + 2,500)
        ("Q", 2024, "maf_pay", -10_000),
        ("Q", 2024, "maf_pay", 2_500),
        # Q: a fund now pays more (another category became the best): owed to the person
        ("Q", 2024, "supp_pay", 3_000),
    ],
    columns=["person_id", "year", "output", "delta"],
)


def _by(frame: pd.DataFrame, column: str) -> dict[tuple[str, str], int]:
    return {(r["person_id"], r["output"]): int(r[column]) for r in frame.to_dict("records")}


def test_recover_asks_back_what_each_fund_paid_too_much() -> None:
    owed = balances(ADJUSTMENTS, "recover")
    assert _by(owed, "owed_by_person") == {
        ("P", "hifmi_pay"): 498_500, ("P", "maf_pay"): 1_270_350, ("Q", "maf_pay"): 7_500, ("Q", "supp_pay"): 0,
    }  # fmt: skip
    assert _by(owed, "owed_to_person")[("Q", "supp_pay")] == 3_000
    assert _by(owed, "due") == _by(owed, "owed_by_person")
    assert set(_by(owed, "borne_by_fund").values()) == {0}
    totals = fund_totals(owed).set_index("output")
    assert totals.loc["maf_pay", "due"] == 1_277_850


def test_hold_harmless_leaves_it_to_the_fund() -> None:
    held = balances(ADJUSTMENTS, "hold_harmless")
    assert set(_by(held, "due").values()) == {0}
    assert _by(held, "borne_by_fund") == _by(held, "owed_by_person")


def test_net_against_later_is_due_like_a_recovery() -> None:
    netted = balances(ADJUSTMENTS, "net_against_later")
    assert _by(netted, "due") == _by(balances(ADJUSTMENTS, "recover"), "due")
    assert set(netted["mode"]) == {"net_against_later"}


def test_no_adjustments_owe_nothing() -> None:
    assert balances(ADJUSTMENTS.iloc[:0], "recover").empty


def _policy(tmp_path: Path, rules: str) -> Path:
    text = DEMO.read_text(encoding="utf-8")
    text = text[: text.index("clawback:")] + rules
    path = tmp_path / "claw.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_rule_in_force_on_the_day(tmp_path: Path) -> None:
    rules = "clawback:\n  - {from: 2024-01-01, mode: recover, reference: r1}\n"
    rules += "  - {from: 2025-07-01, mode: hold_harmless, reference: r2}\n"
    policy = load_policy(str(_policy(tmp_path, rules)))
    assert mode_on(policy.clawback, date(2025, 6, 30)) == "recover"
    assert mode_on(policy.clawback, date(2025, 7, 1)) == "hold_harmless"
    with pytest.raises(ClawbackError, match="no clawback rule in force on 2023-12-31"):
        mode_on(policy.clawback, date(2023, 12, 31))


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ("  - {from: 2024-01-01, mode: recover, reference: a}\n"
         "  - {from: 2024-01-01, mode: hold_harmless, reference: b}\n", "two rules start on the same day"),
        ("  - {from: 2024-01-01, mode: forgive, reference: a}\n", "clawback.0.mode"),
        ("  - {from: 2024-01-01, mode: recover}\n", "clawback.0.reference"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_with_their_path(tmp_path: Path, rules: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        load_policy(str(_policy(tmp_path, "clawback:\n" + rules)))
