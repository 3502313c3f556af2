"""Arrow allocates from the system's malloc in every process that uses the engine, whichever of
pandas, pyarrow or medrelief is imported first (settlement/__init__.py says why); a pool the
environment chose is kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import pyarrow as pa, pandas as pd; print(pa.default_memory_pool().backend_name)"


@pytest.mark.parametrize(
    ("first", "chosen", "expected"),
    [
        ("import settlement", None, "system"),
        ("import pandas, pyarrow; import settlement.money", None, "system"),
        ("import api.cli", None, "system"),
        ("import settlement", "jemalloc", "jemalloc"),
    ],
)
def test_arrow_uses_the_system_allocator(first: str, chosen: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    probe = f"{first}; {PROBE}; pd.Series(['1.00']).str.fullmatch('[0-9.]+')"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
