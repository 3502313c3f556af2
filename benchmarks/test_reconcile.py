"""`medrelief reconcile` on 5 million rows against 5 million (~1% differences): wall time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
ROWS = 5_000_000


def test_reconcile_5m_against_5m(tmp_path: Path) -> None:
    # generated in another process: a child forked from a big parent would report the parent's RSS
    generate = "from pathlib import Path; from benchmarks.reconcile_data import write_pair; "
    generate += f"write_pair({ROWS}, Path({str(tmp_path)!r}))"
    subprocess.run([sys.executable, "-c", generate], cwd=ROOT, check=True)
    ours, theirs, mapping = (tmp_path / name for name in ("ours.csv", "theirs.csv", "mapping.yaml"))
    report = tmp_path / "report.parquet"
    command = [sys.executable, "-c", "from settlement.cli import app; app()", "reconcile", str(ours), str(theirs)]
    started = time.perf_counter()
    with (tmp_path / "stdout").open("w+") as out, (tmp_path / "stderr").open("w+") as err:
        process = subprocess.Popen(
            [*command, "--mapping", str(mapping), "--out", str(report)],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "160"},
        )
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, not the session's
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())
    seconds = time.perf_counter() - started
    peak = usage.ru_maxrss / 2**10
    print(f"\nreconcile 5M vs 5M → Parquet report: {seconds:.1f} s, peak RSS {peak:.0f} MiB")
    print(done.stdout[-400:])
    assert done.returncode == 1, done.stderr  # FAIL: the differences are there
    assert "only_theirs 9,9" in done.stdout or "only_theirs 10," in done.stdout
    assert seconds < 60
