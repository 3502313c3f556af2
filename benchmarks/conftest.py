"""Benchmarks are collected in every run and skipped unless ``--bench`` is given."""

from __future__ import annotations

import pytest

from benchmarks.data import claims_frame
from settlement.claims import ClaimTable, from_frame
from tiers.loader import load_policy
from tiers.tables import CompiledPolicy, compile_policy

SIZES = {"1e3": (1_000, 200), "1e5": (100_000, 20_000), "1e6": (1_000_000, 200_000)}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--bench"):
        return
    skip = pytest.mark.skip(reason="benchmark: run with `pytest benchmarks --bench`")
    for item in items:
        if "benchmarks" in item.path.parts:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def demo() -> CompiledPolicy:
    return compile_policy(load_policy("demo"))


@pytest.fixture(scope="session")
def tables() -> dict[str, ClaimTable]:
    """Claim tables of each size, built once (validation and factorising done, in memory)."""
    return {name: from_frame(claims_frame(n, persons, seed=1)) for name, (n, persons) in SIZES.items()}
