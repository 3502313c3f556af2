"""Runs: reproducible, the same on Dask as here to the fen, and equal to the engine on real claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.data import claims_frame
from settlement.claims import from_frame
from settlement.engine import settle
from settlement.simulation.cohort import CohortSpec, load_cohort
from settlement.simulation.run import Simulation, SimulationError, simulate
from tiers.codes import PAYMENT_COLUMNS
from tiers.loader import load_policy
from tiers.reforms import load_scenarios, scenario_policies
from tiers.schema import Policy

ROOT = Path(__file__).parents[3]
SCENARIOS = ROOT / "settlement" / "simulation" / "defaults" / "scenarios.yaml"


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return scenario_policies(load_scenarios(SCENARIOS))


@pytest.fixture(scope="module")
def spec() -> CohortSpec:
    return load_cohort().model_copy(update={"persons": 9_000, "block_size": 2_000})


@pytest.fixture(scope="module")
def local(spec: CohortSpec, policies: dict[str, Policy]) -> Simulation:
    return simulate(spec, policies, seed=5, replications=3)


def _assert_same(a: Simulation, b: Simulation) -> None:
    for name, frame in a.tables().items():
        pd.testing.assert_frame_equal(frame, b.tables()[name], check_exact=True, obj=name)
    pd.testing.assert_frame_equal(a.deltas, b.deltas, check_exact=True)


def test_same_seed_same_tables(local: Simulation, spec: CohortSpec, policies: dict[str, Policy]) -> None:
    _assert_same(local, simulate(spec, policies, seed=5, replications=3))
    other = simulate(spec, policies, seed=6, replications=1)
    assert not local.measures.summary.iloc[:1].equals(other.measures.summary.iloc[:1])


def _simulate(out: Path, *dask: str) -> subprocess.CompletedProcess[str]:
    """``medrelief simulate`` as a user runs it: a process of its own (so is its Dask client)."""
    args = ["simulate", "--persons", "9000", "--replications", "3", "--seed", "5", "--out", str(out), *dask]
    command = [sys.executable, "-c", "from settlement.cli import app; app()", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)


def test_dask_equals_local_to_the_fen(tmp_path: Path) -> None:
    """The same run here and on a Dask LocalCluster of two workers writes the same tables, byte for
    byte. Dask runs in the command's process, never in the test process: its client (scheduler,
    offloading thread) in a long test process was followed by heap corruption in later tests."""
    here, there = _simulate(tmp_path / "here"), _simulate(tmp_path / "dask", "--dask", "--workers", "2")
    assert here.returncode == 0, here.stderr
    assert there.returncode == 0, there.stderr
    tables = sorted(p.name for p in (tmp_path / "here").glob("*.csv"))
    assert tables == sorted(p.name for p in (tmp_path / "dask").glob("*.csv"))
    assert len(tables) >= 10
    for name in tables:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


def test_replications_differ_and_bands_summarise_them(local: Simulation) -> None:
    summary = local.measures.summary
    base = summary[summary["scenario"] == "baseline"]
    assert base["replication"].tolist() == [0, 1, 2]
    assert base["fund_pay_sumamt"].nunique() == 3
    bands = local.bands
    band = bands[(bands["scenario"] == "baseline") & (bands["metric"] == "fund_pay_sumamt")].iloc[0]
    assert band["unit"] == "yuan"
    assert band["replications"] == 3
    assert band["mean"] == pytest.approx(base["fund_pay_sumamt"].mean() / 100)
    assert band["p05"] <= band["p50"] <= band["p95"]
    assert band["p50"] == pytest.approx(base["fund_pay_sumamt"].median() / 100)


def test_real_claims_in_person_blocks_equal_one_engine_run(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = claims_frame(6_000, 1_500, seed=2)
    frame = frame[frame["settle_date"].str.startswith("2025")]
    claims = from_frame(frame)
    monkeypatch.setattr("settlement.simulation.run.PERSONS_PER_FILE_BLOCK", 200)
    policy = load_policy("demo")
    result = simulate(claims, {"baseline": policy})
    direct = settle(claims, policy)
    row = result.measures.summary.iloc[0]
    for column in PAYMENT_COLUMNS:
        assert row[column] == int(direct.payments[column].sum())
    assert row["psn_part_amt"] == int(direct.psn_part_amt.sum())
    assert row["persons"] == len(claims.persons)
    per_person = pd.Series(direct.psn_part_amt).groupby(claims.persons[claims.person]).sum()
    deltas = result.deltas.set_index("person_id")["baseline_psn_part_amt"]
    assert np.array_equal(deltas.sort_index().to_numpy(), per_person.sort_index().to_numpy())


def test_file_cohorts_refuse_replications_and_several_years() -> None:
    claims = from_frame(claims_frame(200, 50, seed=1))
    policies = {"baseline": load_policy("demo")}
    with pytest.raises(SimulationError, match="span"):
        simulate(claims, policies)
    with pytest.raises(SimulationError, match="one replication"):
        simulate(claims, policies, replications=2)
