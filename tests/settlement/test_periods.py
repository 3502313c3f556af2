"""Accumulation periods (累计周期): a layer's year from a day of its own (an insurance year), by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from settlement.cli import app
from settlement.engine import settle
from settlement.periods import of_claims, period_years
from tests.helpers import claims_frame, oracle_rows, result_in_yuan
from tests.oracle import settle_reference
from tests.settlement.test_properties import claim_rows
from tiers.loader import PolicyError, load_policy
from tiers.tables import compile_policy

INSURANCE_YEAR = compile_policy(load_policy(Path(__file__).parents[1] / "cases" / "insurance-year.yaml"))
DEMO = compile_policy(load_policy("demo"))


def _days(*days: str) -> np.ndarray:
    return np.array([(date.fromisoformat(d) - date(1970, 1, 1)).days for d in days], np.int64)


def test_a_period_is_known_by_the_year_it_starts_in() -> None:
    days = _days("2024-06-30", "2024-07-01", "2025-01-01", "2025-06-30", "2024-02-29")
    assert period_years(days, (7, 1)).tolist() == [2023, 2024, 2024, 2024, 2023]
    assert period_years(days, (1, 1)).tolist() == [2024, 2024, 2025, 2025, 2024]


def test_each_layer_has_its_own_period_of_a_day() -> None:
    days = _days("2024-03-10", "2024-07-01", "2024-10-01", "2025-01-01")
    assert of_claims(days, [(1, 1), (10, 1), (7, 1)]).tolist() == [
        [2024, 2024, 2024, 2025],
        [2023, 2023, 2024, 2024],
        [2023, 2024, 2024, 2024],
    ]
    assert of_claims(days, [(1, 1), (1, 1)]).tolist() == [[2024, 2024, 2024, 2025]] * 2


def _claim(claim_id: str, day: str, amount: str) -> dict[str, str]:
    """A 门诊慢特病 claim of a person without relief identity, all of it in-policy."""
    return {"claim_id": claim_id, "person_id": "G", "category": "general", "med_type": "14", "hospital_level": "1",
            "settle_date": day, "diagnosis": "N18.5", "accident": "0", "medfee_sumamt": amount,
            "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0"}  # fmt: skip


CLAIMS = [_claim("A", "2024-09-20", "40000"), _claim("B", "2024-10-10", "40000"), _claim("C", "2025-01-05", "10000")]


def test_critical_illness_over_a_year_from_october_by_hand() -> None:
    """basic: 60%, cap 5,000 a calendar year; 大病: deductible 15,000 a year from 1 October, 60% to
    50,000, 70% to 100,000. A (2024-09-20, period 2023): basic 60% × 40,000 = 24,000 → cap 5,000;
    大病 60% × (35,000 − 15,000) = 12,000. B (2024-10-10, period 2024 begins): basic has paid its
    2024 cap → 0; 大病 a new deductible, 60% × (40,000 − 15,000) = 15,000 (on calendar years:
    60% × 15,000 + 70% × 25,000 = 26,500). C (2025-01-05, still period 2024): basic's new year,
    60% × 10,000 = 6,000 → cap 5,000; 大病 from 40,000 to 45,000 at 60% = 3,000 (on calendar
    years: below the new year's deductible, 0)."""
    result = settle(claims_frame(CLAIMS), INSURANCE_YEAR).frame().set_index("claim_id")
    assert result["hifp_pay"].to_dict() == {"A": 500_000, "B": 0, "C": 500_000}
    assert result["hifmi_pay"].to_dict() == {"A": 1_200_000, "B": 1_500_000, "C": 300_000}
    assert result["psn_part_amt"].to_dict() == {"A": 2_300_000, "B": 2_500_000, "C": 200_000}
    calendar = settle(claims_frame(CLAIMS), DEMO).frame().set_index("claim_id")
    assert calendar["hifmi_pay"].to_dict() == {"A": 1_200_000, "B": 2_650_000, "C": 0}


def test_the_accumulators_are_kept_per_layer_period() -> None:
    closing = settle(claims_frame(CLAIMS), INSURANCE_YEAR).closing()
    rows = {(r.year, r.layer, r.bucket): (r.base_cum, r.paid_cum, r.claims) for r in closing.itertuples()}
    assert rows == {
        (2024, "basic", "chronic"): (8_000_000, 500_000, 2),
        (2025, "basic", "chronic"): (1_000_000, 500_000, 1),
        (2023, "critical_illness", "critical_illness"): (3_500_000, 1_200_000, 1),
        (2024, "critical_illness", "critical_illness"): (4_500_000, 1_800_000, 2),
    }


def test_claim_by_claim_with_the_closing_accumulators_equals_the_batch() -> None:
    opening, paid = None, []
    for claim in CLAIMS:
        one = settle(claims_frame([claim]), INSURANCE_YEAR, opening)
        paid.append(int(one.frame()["hifmi_pay"].iloc[0]))
        opening = one.closing()
    assert paid == [1_200_000, 1_500_000, 300_000]


@pytest.mark.parametrize("starts", ["02-29", "13-01", "7-1", "00-10", "04-31"])
def test_a_period_that_is_no_day_of_every_year_is_refused(tmp_path: Path, starts: str) -> None:
    path = tmp_path / "region.yaml"
    path.write_text(
        "extends: demo\nid: region\nname: r\nreference: r\nlayers:\n"
        f"  - id: supplementary\n    period: {{starts: '{starts}', reference: r}}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match=r"region\.yaml.*layers\.3\.period\.starts.*MM-DD"):
        load_policy(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=claim_rows(max_claims=16), data=st.data())
def test_arrival_order_over_the_person_equals_the_reference(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    """With arrival numbers (as the service settles), periods that overlap years settle a person's
    claims in arrival order over all their years — a claim arriving late for an earlier day is
    settled after those that came before it: the engine equals the Decimal oracle to the fen."""
    numbers = data.draw(st.permutations(range(len(rows))))
    frame = claims_frame(rows).assign(arrival=[str(n) for n in numbers])
    engine = result_in_yuan(settle(frame, INSURANCE_YEAR))
    oracle = oracle_rows(claims_frame(rows))
    for row, number in zip(oracle, numbers, strict=True):
        row["arrival"] = number
    expected, _ = settle_reference(oracle, INSURANCE_YEAR.policy)
    for claim_id, want in expected.items():
        assert engine[claim_id] == {c: want[c] for c in engine[claim_id]}, claim_id


def test_policy_check_show_and_diff_print_the_periods() -> None:
    path = str(Path(__file__).parents[1] / "cases" / "insurance-year.yaml")
    checked = CliRunner().invoke(app, ["policy", "check", path], env={"COLUMNS": "300"})
    assert checked.exit_code == 0, checked.output
    assert "hifmi_pay accumulates over a year from 10-01" in checked.output
    assert "layers.3.period: the insurance year of the contract (tests)" in checked.output
    shown = CliRunner().invoke(app, ["policy", "show", path, "--date", "2025-01-01"], env={"COLUMNS": "300"})
    assert "period: a year from 07-01 (known by the year it starts in)" in shown.output
    diff = CliRunner().invoke(app, ["policy", "diff", "demo", path, "--date", "2025-01-01"], env={"COLUMNS": "300"})
    assert "critical_illness period: — → a year from 10-01" in diff.output
