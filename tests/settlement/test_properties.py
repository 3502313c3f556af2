"""Property tests on random batches: engine == Decimal oracle, conservation, caps, batch splits."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.claims import FLAG_COLUMNS
from settlement.engine import settle
from tests.helpers import RESULT_COLUMNS, claims_frame, oracle_rows, result_in_yuan
from tests.oracle import settle_reference
from tiers.codes import CATEGORIES
from tiers.loader import load_policy
from tiers.tables import CompiledPolicy, compile_policy

CLAIM_CAP = str(Path(__file__).parents[1] / "cases" / "claim-cap.yaml")
CHARITY = str(Path(__file__).parents[1] / "cases" / "charity.yaml")  # a fifth layer of the region's own
ADMISSION_DATED = str(Path(__file__).parents[1] / "cases" / "admission-dated.yaml")
INSURANCE_YEAR = str(Path(__file__).parents[1] / "cases" / "insurance-year.yaml")  # periods from 10-01, 07-01
POLICIES = {
    name: compile_policy(load_policy(name))
    for name in (
        "demo",
        "beijing",
        "nantong",
        "guangde",
        "yubei",
        "npc147",
        "sanming",
        "bengbu",
        CLAIM_CAP,
        CHARITY,
        ADMISSION_DATED,
        INSURANCE_YEAR,
    )
}
DIAGNOSES = ["C50.1", "I21.0", "I63.9", "N18.5", "N18.4", "Q25.0", "J18.9", "S72.0", ""]
START = date(2023, 12, 1)


@st.composite
def claim_rows(
    draw: st.DrawFn,
    max_claims: int = 24,
    tiers: int = 3,
    visit_types: tuple[str, ...] = ("11", "14", "21"),
    categories: tuple[str, ...] = CATEGORIES,
    flags: bool = False,
) -> list[dict[str, Any]]:
    """A batch over a few persons spanning a year boundary and the 2024-07-01 change (on hospital
    tiers 1…``tiers`` and ``visit_types``: demo's by default)."""
    n = draw(st.integers(1, max_claims))
    persons = draw(st.integers(1, 4))
    rows = []
    for i in range(n):
        settled = START + timedelta(days=draw(st.integers(0, 500)))
        total = draw(st.one_of(st.integers(0, 2_000_00), st.integers(0, 60_000_000), st.integers(0, 300_000_000)))
        parts = [draw(st.integers(0, total // 3)) for _ in range(3)]
        rows.append(
            {
                "claim_id": f"K{draw(st.integers(0, 10**6)):07d}-{i}",
                "person_id": f"P{draw(st.integers(0, persons - 1))}",
                "category": draw(st.sampled_from(categories)),
                "med_type": draw(st.sampled_from(visit_types)),
                "hospital_level": draw(st.integers(1, tiers)),
                "settle_date": settled.isoformat(),
                "diagnosis": draw(st.sampled_from(DIAGNOSES)),
                "accident": draw(st.integers(0, 1)),
                **({f: draw(st.integers(0, 1)) for f in FLAG_COLUMNS} if flags else {}),
                **(_dates(draw, settled) if flags else {}),
                "medfee_sumamt": _yuan(total),
                "fulamt_ownpay_amt": _yuan(parts[0]),
                "overlmt_selfpay": _yuan(parts[1]),
                "preselfpay_amt": _yuan(parts[2]),
            }
        )
    return rows


def _dates(draw: st.DrawFn, settled: date) -> dict[str, str]:
    """An admission up to 40 days before the settlement, and a birth date."""
    return {"admission_date": (settled - timedelta(days=draw(st.integers(0, 40)))).isoformat(),
            "birth_date": _birth(draw, settled)}  # fmt: skip


def _birth(draw: st.DrawFn, settled: date) -> str:
    """A birth date: any age to 100, often just around the 18th birthday (age bands), sometimes none."""
    near = st.integers(18 * 365 - 2, 18 * 365 + 8).map(lambda days: settled - timedelta(days=days))
    born = draw(st.one_of(st.none(), near, st.integers(0, 100 * 366).map(lambda d: settled - timedelta(days=d))))
    return born.isoformat() if born is not None else ""


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def _in_force(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["settle_date"] >= "2023-01-01"]


def _within(rows: list[dict[str, Any]], policy: CompiledPolicy) -> list[dict[str, Any]]:
    """The rows moved by whole years into the policy's time (the generator dates claims from 2023),
    on the policy's hospital tiers and visit types (a tier or type it lacks becomes one it has)."""
    shift = max(0, policy.versions[0].year - 2023)
    tiers, types = policy.profiles.tiers, list(policy.settles_as)  # and categories: a region's own too
    return [
        {**r, "settle_date": _later(r["settle_date"], shift),
         **({"admission_date": _later(r["admission_date"], shift)} if "admission_date" in r else {}),
         **({"birth_date": _later(r["birth_date"], shift)} if r.get("birth_date") else {}),
         "med_type": r["med_type"] if r["med_type"] in types else "21",
         "category": r["category"] if r["category"] in policy.profiles.categories else "general",
         "hospital_level": tiers[(r["hospital_level"] - 1) % len(tiers)]}
        for r in rows
    ]  # fmt: skip


def _later(day: str, years: int) -> str:
    year, rest = int(day[:4]) + years, day[4:]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return f"{year}{'-02-28' if rest == '-02-29' and not leap else rest}"


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["settle_date", "claim_id"], kind="stable").reset_index(drop=True)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    rows=claim_rows(
        tiers=6, visit_types=("11", "14", "21", "13"), categories=(*CATEGORIES, "retired_1960s"), flags=True
    ),
    name=st.sampled_from(sorted(POLICIES)),
)
def test_engine_equals_reference(rows: list[dict[str, Any]], name: str) -> None:
    frame = claims_frame(_within(rows, POLICIES[name]))
    engine = result_in_yuan(settle(frame, POLICIES[name]))
    reference, accumulated = settle_reference(oracle_rows(frame), POLICIES[name].policy)
    for claim_id, expected in reference.items():
        assert engine[claim_id] == {c: expected[c] for c in engine[claim_id]}, claim_id
        assert set(RESULT_COLUMNS) <= set(engine[claim_id]), claim_id
    closing = settle(frame, POLICIES[name]).closing()
    keys = zip(*(closing[c].tolist() for c in ("person_id", "year", "layer", "bucket")), strict=True)
    amounts = zip(*(closing[c].tolist() for c in ("base_cum", "paid_cum", "claims")), strict=True)
    found = {
        key: (Decimal(base) / 100, Decimal(paid) / 100, n) for key, (base, paid, n) in zip(keys, amounts, strict=True)
    }
    assert found == {k: (a.base, a.paid, a.claims) for k, a in accumulated.items() if a.claims or a.paid}


@SETTINGS
@given(rows=claim_rows())
def test_conservation_and_bounds(rows: list[dict[str, Any]]) -> None:
    frame = claims_frame(rows)
    result = settle(frame, POLICIES["demo"]).frame()
    payments = result[["hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"]]
    assert (payments >= 0).all().all()
    total = settle(frame, POLICIES["demo"]).claims.medfee
    assert np.array_equal(payments.sum(axis=1).to_numpy() + result["psn_part_amt"].to_numpy(), total)
    assert (payments.sum(axis=1) <= result["inscp_scp_amt"]).all(), "funds pay only in-policy amounts"


@SETTINGS
@given(rows=claim_rows(max_claims=30))
def test_demo_caps_never_exceeded(rows: list[dict[str, Any]]) -> None:
    frame = claims_frame(rows)
    result = settle(frame, POLICIES["demo"]).frame()
    joined = pd.concat([frame, result.drop(columns="claim_id")], axis=1)
    joined["year"] = joined["settle_date"].str[:4]
    by_med = joined.groupby(["person_id", "year", "med_type"], as_index=False)["hifp_pay"].sum()
    caps = {"21": 250_000_00, "14": 5_000_00, "11": 400_00}
    assert (by_med["hifp_pay"] <= by_med["med_type"].map(caps)).all()
    assert (joined.groupby(["person_id", "year"])["maf_pay"].sum() <= 30_000_00).all()
    untilted = joined[~joined["category"].isin(["tekun", "dibao", "fanpin"])]
    assert (untilted.groupby(["person_id", "year"])["hifmi_pay"].sum() <= 400_000_00).all()


@SETTINGS
@given(rows=claim_rows(), cuts=st.lists(st.integers(1, 23), max_size=4), name=st.sampled_from(["demo", INSURANCE_YEAR]))
def test_any_split_into_batches_equals_one_batch(rows: list[dict[str, Any]], cuts: list[int], name: str) -> None:
    policy = POLICIES[name]
    frame = _ordered(claims_frame(rows))
    whole = settle(frame, policy)
    bounds = sorted({0, len(frame), *[c for c in cuts if c < len(frame)]})
    opening, parts = None, []
    for lo, hi in itertools.pairwise(bounds):
        batch = settle(frame.iloc[lo:hi].reset_index(drop=True), policy, opening)
        parts.append(batch.frame())
        opening = batch.closing()
    assert pd.concat(parts, ignore_index=True).equals(whole.frame())
    assert opening is not None
    assert opening.reset_index(drop=True).equals(whole.closing().reset_index(drop=True))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=claim_rows(max_claims=16), name=st.sampled_from(["demo", INSURANCE_YEAR]))
def test_claim_by_claim_equals_one_batch(rows: list[dict[str, Any]], name: str) -> None:
    policy = POLICIES[name]
    frame = _ordered(claims_frame(rows))
    opening, parts = None, []
    for i in range(len(frame)):
        one = settle(frame.iloc[i : i + 1].reset_index(drop=True), policy, opening)
        parts.append(one.frame())
        opening = one.closing()
    assert pd.concat(parts, ignore_index=True).equals(settle(frame, policy).frame())


@SETTINGS
@given(rows=claim_rows(max_claims=12), seed=st.integers(0, 2**32 - 1))
def test_input_order_does_not_change_amounts(rows: list[dict[str, Any]], seed: int) -> None:
    frame = claims_frame(rows)
    shuffled = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    a = settle(frame, POLICIES["demo"]).frame().set_index("claim_id").sort_index()
    b = settle(shuffled, POLICIES["demo"]).frame().set_index("claim_id").sort_index()
    assert a.equals(b)
