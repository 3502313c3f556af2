"""Post-hoc assistance: Beijing 依申请救助 (30% / 40% / 50% split at 30,000 and 50,000, cap 150,000)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

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
    done = subprocess.run(
        [*command, str(claims), "--out", str(out)], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
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
