"""The regions bundled from public texts, each checked on claims settled by hand from its text
(and, for layers the text does not give, from the `demo` parameters it declares it borrows).

Money in fen. Every region flags what it assumes (``medrelief policy check NAME`` prints it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from settlement.engine import settle
from settlement.posthoc import settle_program
from tiers.codes import CATEGORIES
from tiers.loader import load_policy
from tiers.view import assumptions, policy_rows

REGIONS = ("guangde", "yubei", "npc147", "yichang", "xianyang", "sanming")


ALL_IN_POLICY = {"fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0"}


def _claim(
    claim_id: str, category: str, med_type: str, level: int, day: str, medfee: int, **more: str
) -> dict[str, Any]:
    return {"claim_id": claim_id, "person_id": more.pop("person", "P"), "category": category, "med_type": med_type,
            "hospital_level": str(level), "settle_date": day, "diagnosis": more.pop("diagnosis", ""), "accident": "0",
            "medfee_sumamt": str(medfee), **ALL_IN_POLICY}  # fmt: skip


def _settled(policy: str, claims: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    frame = settle(pd.DataFrame(claims), load_policy(policy)).frame().set_index("claim_id")
    shown = frame[["hifp_pay", "hifmi_pay", "maf_pay", "supp_pay", "psn_part_amt"]]
    return {str(claim): {str(k): int(v) for k, v in row.items()} for claim, row in shown.to_dict("index").items()}


@pytest.mark.parametrize("name", REGIONS)
def test_a_region_says_what_it_assumes_and_has_no_layer_its_text_lacks(name: str) -> None:
    policy = load_policy(name)
    assert any("demo's parameters" in text for _, text in assumptions(policy))
    assert policy.layer("supp_pay") is None  # demo's 低补保-style layer is removed


def test_guangde_shared_cap_of_chronic_outpatient_and_inpatient_domain_e5() -> None:
    """A 低保 person, 2025. C1 门诊慢特病 10,000: basic 60% = 6,000 → its 5,000 cap; 大病 nothing (5,000 <
    the tilted 7,500); 救助 75% × 5,000 = 3,750. C2 三级 admission 1,000,000: basic (1,000,000 − 800) × 72%
    → its 250,000 cap; 大病 on 5,000 → 755,000: 42,500 × 65% + 50,000 × 75% + 655,000 × 85% = 621,875;
    救助 75% × 128,125 = 96,093.75 → what is left of the shared 50,000: 46,250. A 返贫致贫 admission at
    一级, 20,000: basic 19,800 × 85% = 16,830; 救助 (3,170 − 1,500) × 70% = 1,169."""
    paid = _settled(
        "guangde",
        [
            _claim("C1", "dibao", "14", 2, "2025-02-01", 10_000),
            _claim("C2", "dibao", "21", 3, "2025-06-01", 1_000_000),
            _claim("F1", "fanpin", "21", 1, "2025-03-01", 20_000, person="F"),
        ],
    )
    assert paid["C1"] == {
        "hifp_pay": 500_000,
        "hifmi_pay": 0,
        "maf_pay": 375_000,
        "supp_pay": 0,
        "psn_part_amt": 125_000,
    }
    assert paid["C2"] == {"hifp_pay": 25_000_000, "hifmi_pay": 62_187_500, "maf_pay": 4_625_000, "supp_pay": 0,
                          "psn_part_amt": 8_187_500}  # fmt: skip
    assert (paid["F1"]["hifp_pay"], paid["F1"]["maf_pay"], paid["F1"]["psn_part_amt"]) == (1_683_000, 116_900, 200_100)


def test_yubei_second_group_at_70_percent() -> None:
    """因病致贫, 二级 admission 100,000 (2025): basic 99,500 × 80% = 79,600; 大病 (20,400 − 15,000) × 60%
    = 3,240; 救助 70% × 17,160 = 12,012."""
    paid = _settled("yubei", [_claim("Y1", "illness_poverty", "21", 2, "2025-04-01", 100_000)])
    assert paid["Y1"] == {"hifp_pay": 7_960_000, "hifmi_pay": 324_000, "maf_pay": 1_201_200, "supp_pay": 0,
                          "psn_part_amt": 514_800}  # fmt: skip


def test_npc147_dibao_caps_by_diagnosis_within_one_year() -> None:
    """A 低保 person, 三级, 2025. D1 not a major disease, 300,000: basic 299,200 × 72% = 215,424; 大病 on
    84,576 (tilted 7,500): 42,500 × 65% + 34,576 × 75% = 53,557; 救助 75% × 31,019 = 23,264.25 → the 20,000
    cap. D2 cancer (C50), 100,000, a second admission (deductible 400): basic 99,600 × 72% = 71,712 → what
    the 250,000 cap leaves, 34,576; 大病 on 84,576 → 150,000: 15,424 × 75% + 50,000 × 85% = 54,068; 救助
    90% × 11,356 = 10,220.40 → what its 30,000 cap leaves after the year's 20,000: 10,000."""
    paid = _settled(
        "npc147",
        [
            _claim("D1", "dibao", "21", 3, "2025-03-01", 300_000),
            _claim("D2", "dibao", "21", 3, "2025-08-01", 100_000, diagnosis="C50.9"),
        ],
    )
    assert (paid["D1"]["hifp_pay"], paid["D1"]["hifmi_pay"], paid["D1"]["maf_pay"]) == (
        21_542_400,
        5_355_700,
        2_000_000,
    )
    assert (paid["D2"]["hifp_pay"], paid["D2"]["hifmi_pay"], paid["D2"]["maf_pay"]) == (3_457_600, 5_406_800, 1_000_000)


def _years(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """(person, category, burden left after layers 1–3 in fen), 2025."""
    zero = [0] * len(rows)
    return pd.DataFrame(
        {"person_id": [r[0] for r in rows], "year": 2025, "inscp_scp_amt": [r[2] for r in rows], "hifp_pay": zero,
         "hifmi_pay": zero, "maf_pay": zero, "supp_pay": zero, "preselfpay_amt": zero, "overlmt_selfpay": zero,
         "category": [CATEGORIES.index(r[1]) for r in rows]}
    )  # fmt: skip


def test_yichang_tilted_assistance_by_category() -> None:
    """低保 40,000: (40,000 − 5,000) × 90% = 31,500; 特困 70,000: 65,000 × 100% → the 50,000 cap; 低保边缘
    10,000: (10,000 − 7,000) × 70% = 2,100; a general person: nothing."""
    policy = load_policy("yichang")
    years = _years([("A", "dibao", 4_000_000), ("B", "tekun", 7_000_000), ("C", "dibao_edge", 1_000_000),
                    ("D", "general", 9_000_000)])  # fmt: skip
    paid = settle_program(policy.post_hoc[0], policy, years).set_index("person_id")["paid"].to_dict()
    assert paid == {"A": 3_150_000, "B": 5_000_000, "C": 210_000, "D": 0}


def test_xianyang_second_round_domain_e4b() -> None:
    """domain.md E4(b): a class-2 person whose burden after three layers is 35,000, threshold 10,000:
    (35,000 − 10,000) × 50% = 12,500; 特困 are not assessed (support funds cover them)."""
    policy = load_policy("xianyang")
    years = _years([("A", "dibao", 3_500_000), ("B", "tekun", 3_500_000)])
    paid = settle_program(policy.post_hoc[0], policy, years).set_index("person_id")["paid"].to_dict()
    assert paid == {"A": 1_250_000, "B": 0}


def test_sanming_deductible_and_cap_from_the_reference_figure_domain_e3() -> None:
    """domain.md E3 (I = 40,000): 因病致贫 D3 = 25% × I = 10,000, 50%: bases 18,000 then 30,000 →
    (18,000 − 10,000) × 50% = 4,000, then (48,000 − 10,000) × 50% − 4,000 = 15,000 (the deductible
    once a year); 特困 90%, cap I: 16,200, then min(48,000 × 90%, 40,000) − 16,200 = 23,800."""
    policy = str(Path(__file__).parents[1] / "cases" / "sanming-assistance-only.yaml")
    paid = _settled(
        policy,
        [
            _claim("P1", "illness_poverty", "21", 2, "2025-03-01", 18_000, person="P5"),
            _claim("P2", "illness_poverty", "21", 2, "2025-09-01", 30_000, person="P5"),
            _claim("T1", "tekun", "21", 2, "2025-03-01", 18_000, person="T"),
            _claim("T2", "tekun", "21", 2, "2025-09-01", 30_000, person="T"),
        ],
    )
    assert {c: paid[c]["maf_pay"] for c in paid} == {"P1": 400_000, "P2": 1_500_000, "T1": 1_620_000, "T2": 2_380_000}
    terms = {r["rule"]: r for r in policy_rows(load_policy("sanming"), date(2025, 6, 1))}
    assert (terms["fifth_class"]["deductible"], terms["fifth_class"]["cap"]) == ("10,000.00 per year", "40,000.00")
