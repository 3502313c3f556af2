"""Repository-wide pytest options."""

from __future__ import annotations

import pytest
from hypothesis import settings

# The engine's compiled passes are compiled on their first call (numba, cached on disk after):
# a per-example deadline would fail whichever example happens to come first on a fresh clone.
# Speed is measured in benchmarks/, not by test deadlines.
settings.register_profile("medrelief", deadline=None)
settings.load_profile("medrelief")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench", action="store_true", help="run the benchmarks in benchmarks/ (skipped otherwise)")
