"""Engine throughput: settle() on in-memory claim tables (sort included), and the per-row oracle."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from benchmarks.conftest import SIZES
from benchmarks.data import claims_frame
from settlement.accumulators import Ledger
from settlement.claims import ClaimTable, from_frame
from settlement.engine import settle
from settlement.explanation import columns
from tests.helpers import oracle_rows
from tests.oracle import settle_reference
from tiers.tables import CompiledPolicy

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("size", list(SIZES))
def test_settle(benchmark: Any, tables: dict[str, ClaimTable], demo: CompiledPolicy, size: str) -> None:
    table = tables[size]
    result = benchmark.pedantic(settle, args=(table, demo), rounds=7, warmup_rounds=1)
    assert len(result.frame()) == len(table)
    benchmark.extra_info["claims_per_second"] = round(len(table) / benchmark.stats.stats.median)


def test_settle_with_opening_1e6(benchmark: Any, tables: dict[str, ClaimTable], demo: CompiledPolicy) -> None:
    """The 1e6 claims again, continuing from the ~1 M accumulator entries their own first pass
    closed with (as `medrelief settle --opening`): what locating the openings costs on top."""
    table = tables["1e6"]
    opening = Ledger.of_frame(settle(table, demo).closing(), demo)
    result = benchmark.pedantic(settle, args=(table, demo, opening), rounds=5, warmup_rounds=1)
    assert len(result.frame()) == len(table)
    benchmark.extra_info["opening_entries"] = len(opening)
    benchmark.extra_info["claims_per_second"] = round(len(table) / benchmark.stats.stats.median)


def test_settle_one_claim_explained(benchmark: Any, demo: CompiledPolicy) -> None:
    """The real-time path's engine call: an inpatient claim of a 低保 person who has claimed before
    (opening accumulators), settled with its explanation kept and turned into columns."""
    frame = claims_frame(12, 1, seed=3)  # one 低保 person's claims over 2024-2025
    discharge = (frame["med_type"] == "21").to_numpy()
    earlier, claim = frame[~discharge].reset_index(drop=True), from_frame(frame[discharge].reset_index(drop=True))
    opening = Ledger.of_frame(settle(earlier, demo).closing(), demo)
    explained = benchmark.pedantic(
        lambda: columns(settle(claim, demo, opening, explain=True)), rounds=3_000, warmup_rounds=100
    )
    assert len(explained["claim_id"]) == len(demo.layers)
    benchmark.extra_info["opening_entries"] = len(opening)


def test_reference_loop_ratio(benchmark: Any, tables: dict[str, ClaimTable], demo: CompiledPolicy) -> None:
    """The Decimal per-row reference on the first 20,000 claims of the 1e6 data, per claim vs the engine."""
    frame = claims_frame(*SIZES["1e6"], seed=1).iloc[:20_000]
    rows = oracle_rows(frame)
    benchmark.pedantic(settle_reference, args=(rows, demo.policy), rounds=1, iterations=1)
    reference_rate = len(rows) / benchmark.stats.stats.median
    started = time.perf_counter()
    settle(tables["1e6"], demo)
    engine_rate = len(tables["1e6"]) / (time.perf_counter() - started)
    benchmark.extra_info["reference_claims_per_second"] = round(reference_rate)
    benchmark.extra_info["engine_claims_per_second"] = round(engine_rate)
    benchmark.extra_info["speedup"] = round(engine_rate / reference_rate)
    assert engine_rate / reference_rate >= 100


def test_peak_memory_1e6(tables: dict[str, ClaimTable], demo: CompiledPolicy) -> None:
    """Peak memory the engine allocates to settle 1e6 claims (tracemalloc sees numpy buffers)."""
    tracemalloc.start()
    settle(tables["1e6"], demo).frame()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\nengine peak allocation for 1e6 claims: {peak / 2**20:.0f} MiB")
    assert peak < 2**30


def test_cli_end_to_end_1e6(tmp_path: Path) -> None:
    """`medrelief settle` on a 1e6-claim CSV: wall time and the process's peak RSS."""
    claims = tmp_path / "claims.csv"
    claims_frame(*SIZES["1e6"], seed=1).to_csv(claims, index=False)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from settlement.cli import app; app()",
            "settle",
            str(claims),
            "--out",
            str(tmp_path / "result.parquet"),
            "--closing",
            str(tmp_path / "closing.parquet"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
    print(f"\nCLI 1e6 claims CSV → Parquet: {seconds:.1f} s, peak RSS {peak:.0f} MiB")
    assert done.returncode == 0, done.stderr
