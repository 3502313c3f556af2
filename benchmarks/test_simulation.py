"""Actuarial simulation: 1 million persons × 1 year (≈4.5 million claims), the baseline and three reforms.

Single process, then Dask LocalClusters of 1 and 2 worker processes (same tables, to the fen).
Results go to ``benchmarks/README.md``.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from settlement.simulation.cluster import dask_client
from settlement.simulation.cohort import CohortSpec, load_cohort
from settlement.simulation.run import Simulation, simulate
from tiers.reforms import load_scenarios, scenario_policies
from tiers.schema import Policy

SCENARIOS = Path(__file__).parents[1] / "settlement" / "simulation" / "defaults" / "scenarios.yaml"
PERSONS = 1_000_000


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return scenario_policies(load_scenarios(SCENARIOS))


@pytest.fixture(scope="module")
def spec() -> CohortSpec:
    return load_cohort().with_persons(PERSONS)


@pytest.fixture(scope="module")
def single(spec: CohortSpec, policies: dict[str, Policy]) -> Simulation:
    return simulate(spec, policies, seed=1)


def _report(label: str, result: Simulation, seconds: float) -> None:
    claims = int(result.measures.summary["claims"].iloc[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    scenarios = len(result.policies)
    print(f"\n{label}: {PERSONS:,} persons, {claims:,} claims, {scenarios} scenarios: {seconds:.1f} s, {peak:.0f} MiB")


def test_single_process(benchmark: Any, spec: CohortSpec, policies: dict[str, Policy]) -> None:
    started = time.perf_counter()
    result = benchmark.pedantic(simulate, args=(spec, policies), kwargs={"seed": 1}, rounds=1, iterations=1)
    _report("single process", result, time.perf_counter() - started)
    assert time.perf_counter() - started < 60


@pytest.mark.parametrize("workers", [1, 2])
def test_dask(benchmark: Any, spec: CohortSpec, policies: dict[str, Policy], single: Simulation, workers: int) -> None:
    with dask_client(workers=workers) as client:
        started = time.perf_counter()
        result = benchmark.pedantic(
            simulate, args=(spec, policies), kwargs={"seed": 1, "client": client}, rounds=1, iterations=1
        )
        _report(f"dask {workers} worker(s)", result, time.perf_counter() - started)
    for name, frame in single.tables().items():
        pd.testing.assert_frame_equal(frame, result.tables()[name], check_exact=True, obj=name)
