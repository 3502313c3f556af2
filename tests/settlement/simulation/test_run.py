"""Runs: reproducible, the same on Dask as here to the fen, and equal to the engine on real claims."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.data import claims_frame
from settlement.claims import from_frame
from settlement.engine import settle
from settlement.simulation.cluster import dask_client
from settlement.simulation.cohort import CohortSpec, load_cohort
from settlement.simulation.run import Simulation, SimulationError, simulate
from tiers.codes import PAYMENT_COLUMNS
from tiers.loader import load_policy
from tiers.reforms import load_scenarios, scenario_policies
from tiers.schema import Policy

SCENARIOS = Path(__file__).parents[3] / "settlement" / "simulation" / "defaults" / "scenarios.yaml"


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


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with dask_client(workers=2) as c:
        yield c


def test_dask_equals_local_to_the_fen(
    local: Simulation, spec: CohortSpec, policies: dict[str, Policy], client: object
) -> None:
    seen: list[tuple[int, int]] = []
    on_dask = simulate(spec, policies, seed=5, replications=3, client=client, progress=lambda d, n: seen.append((d, n)))  # type: ignore[arg-type]
    _assert_same(local, on_dask)
    assert seen[-1] == (15, 15)
    assert len(seen) == 15


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
