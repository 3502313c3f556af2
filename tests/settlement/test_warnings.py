"""Early warning (预警监测) under the demo policy's declaration (25% / 50% of 40,000: 10,000 for the
low-income group, 20,000 for everybody else; burden = the person's part without 全自费).

Hand-checked claims whose parts make the burden obvious: a bill wholly 先行自付 (no in-policy amount)
leaves all of it to the person; 全自费 is left out of the burden.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from settlement.engine import settle
from settlement.warnings import book_rows, claim_rows, warnings
from tiers.loader import load_policy

ROOT = Path(__file__).parents[2]
HEADER = "claim_id,person_id,category,med_type,hospital_level,settle_date,diagnosis,accident,"
HEADER += "medfee_sumamt,fulamt_ownpay_amt,overlmt_selfpay,preselfpay_amt\n"
CLAIMS = HEADER + "\n".join(
    [
        # A, 其他参保人 (20,000): 8,000 + 7,000 (12,000 less 5,000 全自费) + 6,000 → crosses on the 3rd claim
        "A1,A,general,11,2,2024-02-01,,0,8000.00,0,0,8000.00",
        "A2,A,general,11,2,2024-05-10,,0,12000.00,5000.00,0,7000.00",
        "A3,A,general,11,2,2024-08-20,,0,6000.00,0,0,6000.00",
        "A4,A,general,11,2,2024-11-02,,0,500.00,0,0,500.00",
        # B, 监测对象 (10,000): 6,000 + 3,999 = 9,999 → just under the line
        "B1,B,monitored,11,2,2024-03-01,,0,6000.00,0,0,6000.00",
        "B2,B,monitored,11,2,2024-04-01,,0,3999.00,0,0,3999.00",
        # C, 其他参保人: one bill of 25,000 in 2025 → crosses on its first claim
        "C1,C,general,11,2,2025-01-20,,0,25000.00,0,0,25000.00",
        # D, 其他参保人: P1 of tests/settlement/simulation/test_outcomes.py without its 低保 identity
        "D1,D,general,21,2,2025-03-01,J18.9,0,60000.00,0,0,0",
    ]
)


def _claims(tmp_path: Path) -> Path:
    path = tmp_path / "claims.csv"
    path.write_text(CLAIMS + "\n", encoding="utf-8")
    return path


def test_a_person_crossing_on_the_third_claim(tmp_path: Path) -> None:
    demo = load_policy("demo")
    found = warnings(claim_rows(settle(pd.read_csv(_claims(tmp_path), dtype=str), demo)), demo, everyone=True)
    rows = {(r["person_id"], r["year"]): r for r in found.to_dict("records")}
    a = rows[("A", 2024)]
    assert (a["group"], a["category"], a["burden"], a["threshold"]) == ("everybody", "general", 2_150_000, 2_000_000)
    assert (a["warned"], a["crossed_on"], a["crossing_claim"], a["claims"]) == (1, "2024-08-20", "A3", 4)
    assert a["ratio"] == 1.075
    b = rows[("B", 2024)]
    assert (b["group"], b["burden"], b["threshold"], b["warned"], b["ratio"]) == (
        "low_income",
        999_900,
        1_000_000,
        0,
        0.9999,
    )
    assert (b["crossed_on"], b["crossing_claim"]) == ("", "")
    c = rows[("C", 2025)]
    assert (c["warned"], c["crossed_on"], c["crossing_claim"]) == (1, "2025-01-20", "C1")
    only = warnings(claim_rows(settle(pd.read_csv(_claims(tmp_path), dtype=str), demo)), demo)
    assert only["person_id"].tolist() == ["A", "C"]  # only those who warned, by year then person
    assert rows[("D", 2025)]["warned"] == 0


def test_the_books_give_the_warnings_the_batch_gives(tmp_path: Path) -> None:
    """The same claims as the service's books hold them (a settlement, then its reversal and a
    settlement again; an adjustment row) warn exactly as the batch does."""
    demo = load_policy("demo")
    result = settle(pd.read_csv(_claims(tmp_path), dtype=str), demo)
    batch = warnings(claim_rows(result), demo, everyone=True)
    rows = claim_rows(result).drop(columns=["year", "day", "order"]).assign(settle_date=claim_rows(result)["day"])
    rows = rows.assign(medfee_sumamt=result.claims.medfee, kind="settlement")
    money = ["medfee_sumamt", "inscp_scp_amt", "psn_part_amt", "fulamt_ownpay_amt", "hifp_pay"]
    a2 = rows[rows["claim_id"] == "A2"]
    reversal = a2.assign(kind="reversal", **{m: -a2[m] for m in money})
    adjustment = a2.assign(kind="adjustment", **dict.fromkeys(money, 0))
    books = pd.concat([rows, reversal, a2, adjustment], ignore_index=True)
    assert book_rows(books).pipe(warnings, demo, everyone=True).equals(batch)


def test_monitor_writes_the_warnings_and_what_approval_is_worth(tmp_path: Path) -> None:
    out = tmp_path / "warnings.csv"
    command = [sys.executable, "-c", "from settlement.cli import app; app()", "monitor", str(_claims(tmp_path)),
               "--policy", "demo", "--year", "2024", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env={"COLUMNS": "100"})
    assert done.returncode == 0, done.stdout + done.stderr
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written.columns.tolist()[:11] == [
        "person_id", "year", "group", "category", "burden", "threshold", "ratio", "warned", "crossed_on",
        "crossing_claim", "claims",
    ]  # fmt: skip
    (a,) = written.to_dict("records")  # 2024: A only (C warned in 2025)
    assert (a["person_id"], a["burden"], a["threshold"], a["crossed_on"]) == ("A", "21500.00", "20000.00", "2024-08-20")
    # 先行自付 is no fund's: granted 低保 or 因病致贫 all year, A would still bear it all
    assert (a["if_dibao"], a["if_illness_poverty"]) == ("21500.00", "21500.00")
    assert "everybody" in done.stdout
    year_2025 = [*command[: command.index("--year")], "--year", "2025", "--out", str(out), "--all"]
    every = subprocess.run(year_2025, cwd=ROOT, capture_output=True, text=True, check=False, env={"COLUMNS": "100"})
    assert every.returncode == 0, every.stdout + every.stderr
    (d,) = [r for r in pd.read_csv(out, dtype=str, keep_default_na=False).to_dict("records") if r["person_id"] == "D"]
    assert d["warned"] == "0"
    assert d["if_dibao"] == "2303.75"  # P1's hand-checked share under 低保
    assert float(d["burden"]) > float(d["if_dibao"])  # what approval would be worth to D
    refused = subprocess.run([*command[:5], "--policy", "beijing", "--out", str(out)], cwd=ROOT, capture_output=True,
                             text=True, check=False, env={"COLUMNS": "100"})  # fmt: skip
    assert refused.returncode == 2
    assert "declares no early_warning" in refused.stdout + refused.stderr


def test_the_claim_that_crosses_as_it_is_settled_is_the_year_s_crossing_claim(tmp_path: Path) -> None:
    """Settling the claims one at a time on the books so far (the service's way) flags exactly
    the claim the year's warning names, and every later claim as above the line."""
    from settlement.warnings import Booked, at_settlement
    from settlement.warnings import watch_of as warning_rules

    demo = load_policy("demo")
    rows = claim_rows(settle(pd.read_csv(_claims(tmp_path), dtype=str), demo))
    rows = rows.sort_values(["person_id", "year", "order"], ignore_index=True)
    money = rows[["psn_part_amt", "fulamt_ownpay_amt", "inscp_scp_amt"]].assign(
        funds=rows[["hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"]].sum(axis=1)
    )
    so_far = money.groupby([rows["person_id"], rows["year"]]).cumsum() - money  # the books before each claim
    claims, before = (Booked(*(f[c].to_numpy("int64") for c in f.columns)) for f in (money, so_far))
    codes = rows["category"].map(demo.categories().index).to_numpy("int64")
    flags = at_settlement(demo, codes, rows["day"].to_numpy("datetime64[D]"), claims, before)
    crossing = set(rows["claim_id"][flags.crossed])
    above = set(rows["claim_id"][flags.above])
    warned = warnings(rows, demo)
    assert crossing == set(warned["crossing_claim"]) == {"A3", "C1"}
    assert above == {"A4"}
    (at,) = np.flatnonzero(rows["claim_id"] == "A3")
    watch = warning_rules(demo)
    found = (watch.groups[flags.group[at]].id, flags.before[at], flags.after[at], flags.threshold[at])
    assert found == ("everybody", 1_500_000, 2_100_000, 2_000_000)
