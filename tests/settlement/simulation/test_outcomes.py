"""Scenario deltas on a four-person cohort, every number checked by hand under the demo policy.

P1 低保, inpatient level 2, 60,000.00 (J18.9, not major):
  basic (60,000 − 500) × 80% = 47,600.00 → left 12,400.00
  大病 tilt: deductible 7,500, 60% + 5 = 65%: (12,400 − 7,500) × 65% = 3,185.00 → left 9,215.00
  救助 dibao_other 75%: 6,911.25 → psn_part 2,303.75
  ci_plus5 (大病 70%): 3,430.00, 救助 (8,970 × 75%) 6,727.50 → 2,242.50 (−61.25)
  deductible_halved (起付 250): 47,800.00, 大病 3,055.00, 救助 6,858.75 → 2,286.25 (−17.50)
P2 监测对象, inpatient level 1, 30,000.00 (C34.9, major):
  basic (30,000 − 200) × 85% = 25,330.00 → left 4,670.00; 大病 0 (below 15,000)
  救助 edge: (4,670 − 4,000) × 60% = 402.00 → psn_part 4,268.00
  supp_adds_monitored: 低补保 98% × 4,268 = 4,182.64 → 85.36 (−4,182.64)
  deductible_halved (起付 100): 25,415.00, 救助 (4,585 − 4,000) × 60% = 351.00 → 4,234.00 (−34.00)
P3 普通, outpatient, 100.00 of which 10.00 全自费: basic 50% × 90 = 45.00 → 55.00, every scenario
P4 普通, outpatient, 1,000.00: basic 50% = 500 > cap 400 → 400.00 (cap reached) → 600.00
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from settlement.claims import from_frame
from settlement.simulation.reform import by_category, by_fund, load_stylised, overall, stylised
from settlement.simulation.run import Simulation, simulate
from tests.helpers import claims_frame
from tiers.reforms import load_scenarios, scenario_policies
from tiers.tables import compile_policy

DEFAULT_SCENARIOS = Path(__file__).parents[3] / "settlement" / "simulation" / "defaults" / "scenarios.yaml"
BASE = {"settle_date": "2025-03-01", "accident": 0, "overlmt_selfpay": "0", "preselfpay_amt": "0"}
COLUMNS = ("claim_id", "person_id", "category", "med_type", "hospital_level", "diagnosis")
MONEY = ("medfee_sumamt", "fulamt_ownpay_amt")
ROWS = [
    ("c1", "P1", "dibao", "21", 2, "J18.9", "60000.00", "0"),
    ("c2", "P2", "monitored", "21", 1, "C34.9", "30000.00", "0"),
    ("c3", "P3", "general", "11", 1, "J06.9", "100.00", "10.00"),
    ("c4", "P4", "general", "11", 1, "J06.9", "1000.00", "0"),
]
CLAIMS = [dict(zip((*COLUMNS, *MONEY), row, strict=True)) for row in ROWS]


@pytest.fixture(scope="module")
def result() -> Simulation:
    claims = from_frame(claims_frame([{**BASE, **c} for c in CLAIMS]))
    return simulate(claims, scenario_policies(load_scenarios(DEFAULT_SCENARIOS)))


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


def test_baseline_summary(result: Simulation) -> None:
    row = _row(result.measures.summary, scenario="baseline")
    assert row["persons"] == 4
    assert row["claims"] == 4
    assert row["medfee_sumamt"] == 9_110_000
    assert row["inscp_scp_amt"] == 9_109_000
    assert row["hifp_pay"] == 4_760_000 + 2_533_000 + 4_500 + 40_000
    assert row["hifmi_pay"] == 318_500
    assert row["maf_pay"] == 691_125 + 40_200
    assert row["supp_pay"] == 0
    assert row["psn_part_amt"] == 230_375 + 426_800 + 5_500 + 60_000
    assert row["reimbursement_ratio"] == pytest.approx(8_387_325 / 9_109_000)


def test_per_person_deltas(result: Simulation) -> None:
    deltas = result.deltas.set_index("person_id")
    assert deltas["baseline_psn_part_amt"].to_dict() == {"P1": 230_375, "P2": 426_800, "P3": 5_500, "P4": 60_000}
    assert deltas["ci_plus5_delta"].to_dict() == {"P1": -6_125, "P2": 0, "P3": 0, "P4": 0}
    assert deltas["deductible_halved_delta"].to_dict() == {"P1": -1_750, "P2": -3_400, "P3": 0, "P4": 0}
    assert deltas["supp_adds_monitored_delta"].to_dict() == {"P1": 0, "P2": -418_264, "P3": 0, "P4": 0}


def test_winners_and_losers(result: Simulation) -> None:
    winners = result.measures.winners
    halved = _row(winners, scenario="deductible_halved", category="all")
    assert (halved["winners"], halved["losers"], halved["unchanged"], halved["gain"], halved["loss"]) == (
        2,
        0,
        2,
        5_150,
        0,
    )
    wider = _row(winners, scenario="supp_adds_monitored", category="monitored")
    assert (wider["persons"], wider["winners"], wider["gain"]) == (1, 1, 418_264)
    assert _row(winners, scenario="ci_plus5", category="dibao")["gain"] == 6_125


def test_caps_reached(result: Simulation) -> None:
    caps = result.measures.caps
    assert set(caps.loc[caps["persons"] > 0, "cap"]) == {"basic.outpatient"}
    assert (caps.loc[caps["cap"] == "basic.outpatient", "persons"] == 1).all()


def test_out_of_pocket_by_category(result: Simulation) -> None:
    oop = result.measures.oop
    general = _row(oop, scenario="baseline", category="general")
    assert (general["persons"], general["mean"], general["max"]) == (2, 32_750, 60_000)
    everyone = _row(oop, scenario="baseline", category="all")
    assert (everyone["p50"], everyone["p90"], everyone["max"]) == (60_000, 426_800, 426_800)
    assert everyone["share_above_5000"] == 0.0
    assert _row(oop, scenario="supp_adds_monitored", category="monitored")["mean"] == 8_536


def test_supplementary_loss_ratio_and_second_payout(result: Simulation) -> None:
    supp = result.measures.supplementary.set_index("scenario")
    columns = ["insured", "premium", "paid", "second_payout_due"]
    # baseline: only P1 (低保) insured: premium 123.46, nothing paid, 92% × 123.46 = 113.5832 → 113.58 due
    assert supp.loc["baseline", columns].to_numpy().tolist() == [1, 12_346, 0, 11_358]
    # the reform insures P2 too and pays 4,182.64: loss ratio 4,182.64 / 246.92, nothing due
    assert supp.loc["supp_adds_monitored", columns].to_numpy().tolist() == [2, 24_692, 418_264, 0]
    assert supp.loc["supp_adds_monitored", "loss_ratio"] == pytest.approx(418_264 / 24_692)


def test_outlay_names_the_layers_from_the_policy(result: Simulation) -> None:
    outlay = result.measures.outlay
    row = _row(outlay, scenario="ci_plus5", fund="hifmi_pay")
    assert (row["layer"], row["fund_pay_type"], row["amount"]) == ("城乡居民大病保险", "390200", 343_000)


def test_a_fund_of_the_regions_own_is_in_the_outlay() -> None:
    """tests/cases/charity.yaml adds 慈善救助 (charity_pay) after 低补保: P1 (低保, inpatient) has 2,303.75
    left after the layers above (see the top of this file), 50% of it is 1,151.88, capped at 1,000.00;
    nobody else is covered. The outlay lists the fund after the standard four, named by the policy."""
    from tiers.loader import load_policy

    claims = from_frame(claims_frame([{**BASE, **c} for c in CLAIMS]))
    charity = load_policy(str(Path(__file__).parents[2] / "cases" / "charity.yaml"))
    outlay = simulate(claims, {"baseline": charity}).measures.outlay
    assert outlay["fund"].tolist() == ["hifp_pay", "hifmi_pay", "maf_pay", "supp_pay", "charity_pay"]
    row = _row(outlay, scenario="baseline", fund="charity_pay")
    assert (row["layer"], row["fund_pay_type"], row["amount"]) == ("慈善医疗救助", "999901", 100_000)


def test_warnings_per_scenario_and_category() -> None:
    """Early warning in a simulated year (demo: 监测对象 10,000, everybody else 20,000; burden = the
    person's part without 全自费), by hand:

    W1 监测对象, inpatient level 1, 150,000 (C34.9) of which 1,000 超限价: in-policy 149,000;
      basic (149,000 − 200) × 85% = 126,480 → 22,520; 大病 (22,520 − 15,000) × 60% = 4,512 → 18,008;
      救助 (18,008 − 4,000) × 60% = 8,404.80 → the person 1,000 + 9,603.20 = 10,603.20: warned.
      supp_adds_monitored: 低补保 98% × 9,603.20 = 9,411.14 → 1,192.06: kept out of the zone.
      ci_plus5 (大病 65%): 4,888 → 救助 8,179.20 → 10,452.80: still warned.
    W2 普通, inpatient level 3, 150,000 of which 5,000 全自费: burden 25,470.40 ≥ 20,000 everywhere."""
    rows = [
        {**BASE, "claim_id": "w1", "person_id": "W1", "category": "monitored", "med_type": "21", "hospital_level": 1,
         "diagnosis": "C34.9", "medfee_sumamt": "150000.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "1000.00"},
        {**BASE, "claim_id": "w2", "person_id": "W2", "category": "general", "med_type": "21", "hospital_level": 3,
         "diagnosis": "C34.9", "medfee_sumamt": "150000.00", "fulamt_ownpay_amt": "5000.00"},
    ]  # fmt: skip
    run = simulate(from_frame(claims_frame(rows)), scenario_policies(load_scenarios(DEFAULT_SCENARIOS)))
    deltas = run.deltas.set_index("person_id")
    assert deltas.loc["W1", "baseline_psn_part_amt"] == 1_060_320
    assert deltas.loc["W1", "supp_adds_monitored_delta"] == 119_206 - 1_060_320
    assert deltas.loc["W1", "ci_plus5_delta"] == 1_045_280 - 1_060_320
    table = run.measures.warnings
    found = {(r["scenario"], r["category"]): (r["watched"], r["warned"], r["kept_out"], r["pushed_in"])
             for r in table.to_dict("records")}  # fmt: skip
    assert found[("baseline", "monitored")] == (1, 1, 0, 0)
    assert found[("supp_adds_monitored", "monitored")] == (1, 0, 1, 0)
    assert found[("ci_plus5", "monitored")] == (1, 1, 0, 0)
    assert found[("supp_adds_monitored", "all")] == (2, 1, 1, 0)
    assert found[("deductible_halved", "general")] == (1, 1, 0, 0)


def test_what_each_reform_changes_per_fund_and_category(result: Simulation) -> None:
    """deductible_halved against the baseline (hand-checked above): 基本 +200.00 (P1) + 85.00 (P2),
    大病 −130.00 (P1), 救助 −52.50 (P1) − 51.00 (P2); per category 低保 +17.50, 监测对象 +34.00.
    One replication: the band is the difference itself."""
    funds = by_fund(result.measures.outlay).set_index(["scenario", "fund"])
    halved = funds.loc["deductible_halved"]
    assert halved["difference"].to_dict() == {
        "hifp_pay": 28_500,
        "hifmi_pay": -13_000,
        "maf_pay": -10_350,
        "supp_pay": 0,
    }
    assert (halved["p05"] == halved["difference"]).all()
    assert (halved["p95"] == halved["difference"]).all()
    categories = by_category(result.measures.ratios).set_index(["scenario", "category"])["difference"]
    assert categories.loc["deductible_halved"].to_dict() == {"dibao": 1_750, "monitored": 3_400, "general": 0}
    assert (
        overall(result.measures.summary, "fund_pay_sumamt").set_index("scenario").loc["deductible_halved", "difference"]
        == 5_150
    )  # = the winners' gain


def test_winners_and_losers_by_out_of_pocket_decile(result: Simulation) -> None:
    """Four persons ranked by baseline out of pocket: P3 55.00, P4 600.00, P1 2,303.75, P2 4,268.00.
    The top 1% (of 4: one person) is P2; the other three fall in D1, D4, D7 (rank × 10 // 3).
    deductible_halved: P1 −17.50 (D7), P2 −34.00 (top 1%)."""
    deciles = result.measures.deciles
    halved = deciles[deciles["scenario"] == "deductible_halved"].set_index("group")
    assert halved.index.tolist() == ["D1", "D4", "D7", "top 1%"]
    assert halved["baseline_mean"].tolist() == [5_500, 60_000, 230_375, 426_800]
    assert halved["change"].tolist() == [0, 0, -1_750, -3_400]
    assert halved["winners"].tolist() == [0, 0, 1, 1]
    assert halved["losers"].sum() == 0


def test_stylised_cases_pay_what_the_policy_says() -> None:
    """A general person's 10,000.00 inpatient stay at a level-2 hospital (10% 全自费, 2% 超限价, 5%
    先行自付 → in-policy 8,300.00): basic (8,300 − 500) × 80% = 6,240.00, 大病 nothing (15,000
    deductible), no assistance → 3,760.00 out of pocket. Over bill sizes: pays + funds = bill, and
    out of pocket never falls as the bill grows."""
    policies = {name: compile_policy(p) for name, p in scenario_policies(load_scenarios(DEFAULT_SCENARIOS)).items()}
    curves = stylised(policies, load_stylised(), ["general", "dibao", "monitored"], 2025)
    general = curves[(curves["scenario"] == "baseline") & (curves["category"] == "general")].set_index("bill")
    assert general.loc[1_000_000, "psn_part_amt"] == 376_000
    assert (curves["psn_part_amt"] + curves["fund_pay_sumamt"] == curves["bill"]).all()
    for _, line in curves.groupby(["scenario", "category"]):
        assert line.sort_values("bill")["psn_part_amt"].is_monotonic_increasing
