"""Post-hoc assistance: Beijing 依申请救助 (30% / 40% / 50% split at 30,000 and 50,000, cap 150,000)."""

from __future__ import annotations

import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from settlement.posthoc import settle_program
from tiers.codes import CATEGORIES
from tiers.loader import load_policy

ROOT = Path(__file__).parents[2]
BEIJING = load_policy("beijing")


def _years(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """(person, category, in-policy amount, paid by layers 1–4 together), fen, all in 2024."""
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "year": 2024,
            "inscp_scp_amt": [r[2] for r in rows],
            "hifp_pay": [r[3] for r in rows],
            "hifmi_pay": 0,
            "maf_pay": 0,
            "supp_pay": 0,
            "preselfpay_amt": 0,
            "overlmt_selfpay": 0,
            "category": [CATEGORIES.index(r[1]) for r in rows],
        }
    )


def test_on_application_bands_and_cap_hand_checked() -> None:
    years = _years(
        [
            # base 70,000: 30% × 30,000 + 40% × 20,000 + 50% × 20,000 = 9,000 + 8,000 + 10,000 = 27,000
            ("A", "illness_poverty", 20_000_000, 13_000_000),
            # base 400,000: 9,000 + 8,000 + 50% × 350,000 = 192,000 → cap 150,000
            ("B", "illness_poverty", 50_000_000, 10_000_000),
            # base 12,345.67: 30% = 3,703.701 → 3,703.70 (half up once)
            ("C", "illness_poverty", 1_234_567, 0),
            # not an 因病致贫 person: nothing
            ("D", "general", 50_000_000, 0),
        ]
    )
    paid = settle_program(BEIJING.post_hoc[0], BEIJING, years).set_index("person_id")
    assert paid["paid"].to_dict() == {"A": 2_700_000, "B": 15_000_000, "C": 370_370, "D": 0}
    assert paid.loc["A", "base"] == 7_000_000
    assert paid.loc["B", "cap_left"] == 0
    assert paid["cap"].isna().to_dict() == {"A": False, "B": False, "C": False, "D": True}


def test_cli_writes_payments_and_refuses_a_policy_without_post_hoc(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from settlement.cli import app; app()", "post-hoc"]
    claims = ROOT / "tests" / "cases" / "demo-claims.csv"
    env = {"COLUMNS": "200", "PATH": ""}
    out = tmp_path / "post.csv"
    everybody = pd.read_csv(claims, dtype=str)  # Beijing's program pays on application: every person applied
    applicants = tmp_path / "applicants.csv"
    everybody.assign(year=everybody["settle_date"].str[:4])[["person_id", "year"]].to_csv(applicants, index=False)
    done = subprocess.run(
        [*command, str(claims), "--applicants", str(applicants), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(rows["program"]) == {"on_application"}
    assert (rows[rows["category"] != "illness_poverty"]["paid"] == "0.00").all()
    refused = subprocess.run(
        [*command, str(claims), "--out", str(out), "--policy", "demo"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert refused.returncode == 2
    assert "defines no post-hoc assistance" in refused.stdout + refused.stderr


def test_tilted_assistance_on_the_burden_after_three_layers() -> None:
    """倾斜救助: base = in-policy amount − layers 1–3 (the supplementary layer is not deducted)."""
    policy = load_policy(str(Path(__file__).parents[1] / "cases" / "tilted-assistance.yaml"))
    years = _years(
        [
            # base 40,000 after layers 1–3: (40,000 − 15,000) × 70% = 17,500
            ("A", "dibao", 10_000_000, 6_000_000),
            # base 40,000: (40,000 − 15,000) × 50% = 12,500
            ("B", "dibao_edge", 10_000_000, 6_000_000),
            # base 400,000: 385,000 × 70% = 269,500 → cap 100,000
            ("C", "tekun", 50_000_000, 10_000_000),
            # below the threshold: nothing
            ("D", "dibao", 1_000_000, 0),
        ]
    )
    years.loc[years["person_id"] == "A", "supp_pay"] = 500_000  # paid by layer 4: not deducted here
    paid = settle_program(policy.post_hoc[0], policy, years).set_index("person_id")
    assert paid["paid"].to_dict() == {"A": 1_750_000, "B": 1_250_000, "C": 10_000_000, "D": 0}
    assert paid["rule"].to_dict() == {"A": "tekun_dibao", "B": "edge", "C": "tekun_dibao", "D": "tekun_dibao"}
    assert int(paid["deductible_applied"].to_dict()["A"]) == 1_500_000


def _half_up(fen: Decimal) -> int:
    return int(fen.quantize(Decimal(1), ROUND_HALF_UP))


def _settled_years(policy_name: str, claims: list[dict[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from settlement.engine import settle
    from settlement.posthoc import person_years, year_categories

    base = {"diagnosis": "", "accident": "0", "overlmt_selfpay": "0", "hospital_level": "3", "med_type": "21"}
    frame = pd.DataFrame([{**base, **c} for c in claims])
    settled = settle(frame, load_policy(policy_name))
    return person_years(settled), year_categories(settled)


def test_beijing_on_application_counts_zifu_er_domain_e4a() -> None:
    """domain.md §6 E4(a): E1's bill for an 因病致贫 person — basic 134,025.00, nothing from 大病
    (45,975 < the 80,000 deductible) or 救助 (no rule for the category); 9号's base is 自付一
    45,975 + 自付二 (先行自付) 5,000 = 50,975, never the 15,000 全自费: 30,000 × 30% + 20,000 × 40%
    + 975 × 50% = 17,487.50."""
    e1 = {"claim_id": "E1", "person_id": "P", "category": "illness_poverty", "settle_date": "2024-05-01",
          "medfee_sumamt": "200000", "fulamt_ownpay_amt": "15000", "preselfpay_amt": "5000"}  # fmt: skip
    years, held = _settled_years("beijing", [e1])
    assert years.loc[0, "hifp_pay"] == 13_402_500
    assert (years.loc[0, "hifmi_pay"], years.loc[0, "maf_pay"]) == (0, 0)
    paid = settle_program(BEIJING.post_hoc[0], BEIJING, years, held)
    assert (paid.loc[0, "base"], paid.loc[0, "paid"]) == (5_097_500, 1_748_750)


def test_a_program_settles_the_year_under_the_most_favourable_category() -> None:
    """Claims under 低保 (70%) and later 低保边缘 (50%): the program pays at 70%, not at the last
    claim's 50%; a person with only 低保边缘 claims gets 50%."""
    policy = load_policy(str(Path(__file__).parents[1] / "cases" / "tilted-assistance.yaml"))
    claim = {"medfee_sumamt": "400000", "fulamt_ownpay_amt": "0", "preselfpay_amt": "0"}
    years, held = _settled_years(
        str(Path(__file__).parents[1] / "cases" / "tilted-assistance.yaml"),
        [
            {**claim, "claim_id": "A1", "person_id": "A", "category": "dibao", "settle_date": "2024-02-01"},
            {**claim, "claim_id": "A2", "person_id": "A", "category": "dibao_edge", "settle_date": "2024-09-01"},
            {**claim, "claim_id": "B1", "person_id": "B", "category": "dibao_edge", "settle_date": "2024-09-01"},
        ],
    )
    last = years.set_index("person_id")["category"].to_dict()
    assert CATEGORIES[int(last["A"])] == "dibao_edge"  # the last claim's
    paid = settle_program(policy.post_hoc[0], policy, years, held).set_index("person_id")
    assert paid[["category", "rule"]].to_dict("index") == {
        "A": {"category": "dibao", "rule": "tekun_dibao"},
        "B": {"category": "dibao_edge", "rule": "edge"},
    }
    base, amount = paid["base"].astype(int).to_dict(), paid["paid"].astype(int).to_dict()
    assert min(base.values()) > 1_500_000  # above the 15,000 threshold
    assert amount["A"] == _half_up((base["A"] - 1_500_000) * Decimal("0.70"))
    assert amount["B"] == _half_up((base["B"] - 1_500_000) * Decimal("0.50"))
    without = settle_program(policy.post_hoc[0], policy, years).set_index("person_id")  # the last claim's only
    assert without.loc["A", "rule"] == "edge"


def test_one_candidate_category_never_sees_another_s_cap() -> None:
    """Yichang's 倾斜救助 shares one bucket and its 50,000 cap between categories. A person who was
    低保边缘 and then 监测对象 in the year, 60,000 left: as 低保边缘 (60,000 − 7,000) × 70% = 37,100; as
    监测对象 (60,000 − 5,000) × 70% = 38,500 — each assessed as if alone (were the second to see what
    the first used of the cap, it would get 12,900 and the worse reading would win)."""
    policy = load_policy("yichang")
    years = _years([("A", "monitored", 6_000_000, 0)])
    codes = [CATEGORIES.index(c) for c in ("dibao_edge", "monitored")]
    held = pd.DataFrame({"person_id": ["A", "A"], "year": 2024, "category": codes})
    (row,) = settle_program(policy.post_hoc[0], policy, years, held).to_dict("records")
    assert (row["person_id"], row["category"], row["rule"]) == ("A", "monitored", "monitored")
    assert (int(row["paid"]), int(row["cap_left"])) == (3_850_000, 1_150_000)


def _yichang_claims(referral: tuple[int, int], out_of_province: tuple[int, int]) -> pd.DataFrame:
    base = {"person_id": "A", "category": "dibao", "med_type": "21", "hospital_level": "2", "diagnosis": "J18.9",
            "accident": "0", "medfee_sumamt": "300000.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
            "preselfpay_amt": "0"}  # fmt: skip
    return pd.DataFrame(
        [
            {**base, "claim_id": "K1", "settle_date": "2024-03-01", "referral": str(referral[0]),
             "out_of_province": str(out_of_province[0])},
            {**base, "claim_id": "K2", "settle_date": "2024-04-01", "referral": str(referral[1]),
             "out_of_province": str(out_of_province[1])},
        ]
    )  # fmt: skip


def test_tilted_assistance_counts_only_referred_care_in_the_province() -> None:
    """Yichang 倾斜救助 counts 规范转诊 care in the province only (``counts: {referral: true,
    out_of_province: false}``). A 低保 person's first admission, referred, 300,000 at level 2 (demo's
    layers 1–3): basic (300,000 − 500) × 80% = 239,600; 大病 (7,500–50,000 @ 65% = 27,625) + (50,000–
    60,400 @ 75% = 7,800) = 35,425; 救助 75% × 24,975 = 18,731.25; burden left 6,243.75 → (6,243.75 −
    5,000) × 90% = 1,119.375 → 1,119.38. The second admission — unreferred, or referred but in
    another province — does not count; were every claim counted, the payment would be larger."""
    from settlement.engine import settle
    from settlement.posthoc import person_years

    policy = load_policy("yichang")
    program = policy.post_hoc[0]
    for referral, away in (((1, 0), (0, 0)), ((1, 1), (0, 1))):
        result = settle(_yichang_claims(referral, away), policy)
        counted = person_years(result, program.counts)
        assert counted["inscp_scp_amt"].tolist() == [30_000_000]
        paid = settle_program(program, policy, counted)
        assert paid["paid"].tolist() == [111_938]
    everything = settle_program(program, policy, person_years(settle(_yichang_claims((1, 1), (0, 0)), policy)))
    assert int(everything["paid"].iloc[0]) > 111_938


def test_a_program_on_application_pays_only_who_applied() -> None:
    from settlement.posthoc import ApplicantsError, applicants_of, applied

    program = BEIJING.post_hoc[0]
    assert program.on_application
    years = pd.DataFrame({"person_id": ["A", "B", "C"], "year": [2024, 2024, 2025], "inscp_scp_amt": [1, 2, 3]})
    text = pd.DataFrame({"person_id": ["B", "C", "A"], "year": ["2024", "2024", "2023"]})
    assert applied(program, years, applicants_of(text, "f.csv"))["person_id"].tolist() == ["B"]
    with pytest.raises(ApplicantsError, match="pays on application"):
        applied(program, years, None)
    with pytest.raises(ApplicantsError, match=r"f\.csv: row 3: person_id and a year"):
        applicants_of(pd.DataFrame({"person_id": ["B", "C"], "year": ["2024", "later"]}), "f.csv")
    with pytest.raises(ApplicantsError, match=r"f\.csv: no column year"):
        applicants_of(pd.DataFrame({"person_id": ["B"]}), "f.csv")
    yichang = load_policy("yichang").post_hoc[0]
    assert applied(yichang, years, None) is years  # everybody eligible
