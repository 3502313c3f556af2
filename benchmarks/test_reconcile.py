"""`medrelief reconcile` on 5 million rows against 5 million (~1% differences): wall time and peak RSS."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.reconcile_data import write_pair

ROOT = Path(__file__).parents[1]
ROWS = 5_000_000


def test_reconcile_5m_against_5m(tmp_path: Path) -> None:
    ours, theirs, mapping = write_pair(ROWS, tmp_path)
    report = tmp_path / "report.parquet"
    command = [sys.executable, "-c", "from settlement.cli import app; app()", "reconcile", str(ours), str(theirs)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--mapping", str(mapping), "--out", str(report)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
    print(f"\nreconcile 5M vs 5M → Parquet report: {seconds:.1f} s, peak RSS {peak:.0f} MiB")
    print(done.stdout[-400:])
    assert done.returncode == 1, done.stderr  # FAIL: the differences are there
    assert "only_theirs 9,9" in done.stdout or "only_theirs 10," in done.stdout
    assert seconds < 60
