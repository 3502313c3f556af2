"""Streamed reconciliation of files (by key-hash parts, in batches) equals the in-memory one, row for row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.reconcile_data import write_pair
from settlement import io
from settlement.reconcile import FIELDS, ReconcileError, reconcile
from settlement.reconcile_files import reconcile_files

CASES = Path(__file__).parents[1] / "cases" / "reconcile"


def _in_memory(
    ours: Path, theirs: Path, mapping: io.ColumnMapping | None
) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame]:
    mine, other = io.read_side(ours, "ours", "setl_id"), io.read_side(theirs, "theirs", "setl_id", mapping)
    fields = tuple(f for f in FIELDS if f in mine.money and f in other.money)
    result = reconcile(mine, other, fields)
    return result.report, result.counts, result.totals


def _sorted(report: pd.DataFrame) -> pd.DataFrame:
    text = report.astype(str)
    return text.sort_values(list(text.columns)).reset_index(drop=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_many_small_parts_give_the_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    ours, theirs, mapping_file = write_pair(20_000, tmp_path)
    monkeypatch.setattr("settlement.reconcile_files.PART_BYTES", 300_000)  # ~8 parts
    monkeypatch.setattr("settlement.reconcile_files.BATCH_BYTES", 200_000)  # several batches per file
    mapping = io.ColumnMapping.load(mapping_file)
    seen: list[tuple[str, int, int]] = []
    out = tmp_path / f"report{suffix}"
    summary = reconcile_files(ours, theirs, "setl_id", mapping, None, out, lambda *a: seen.append(a))
    report, counts, totals = _in_memory(ours, theirs, mapping)
    assert summary.counts == counts
    pd.testing.assert_frame_equal(summary.totals, totals, check_dtype=False)
    assert seen[-1][0] == "reconciling"
    assert seen[-1][1] == seen[-1][2] > 4
    assert sum(1 for s in seen if s[0].startswith("reading ours")) > 2
    written = io.read_text_table(out)
    expected = report.assign(
        ours=[f"{v / 100:.2f}" if pd.notna(v) else "" for v in report["ours"]],
        theirs=[f"{v / 100:.2f}" if pd.notna(v) else "" for v in report["theirs"]],
    )
    assert len(written) == len(report)
    pd.testing.assert_frame_equal(_sorted(written), _sorted(expected), check_dtype=False)


def test_the_golden_files_and_duplicates_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = io.ColumnMapping.load(CASES / "mapping.yaml")
    summary = reconcile_files(CASES / "ours.csv", CASES / "theirs.csv", "setl_id", mapping, None, None)
    _, counts, totals = _in_memory(CASES / "ours.csv", CASES / "theirs.csv", mapping)
    assert summary.counts == counts
    assert summary.totals["difference"].tolist() == totals["difference"].tolist()
    ours, _, _ = write_pair(5_000, tmp_path)
    lines = ours.read_text().splitlines()
    ours.write_text("\n".join([*lines, lines[1]]) + "\n")  # the first row again, at the very end
    monkeypatch.setattr("settlement.reconcile_files.BATCH_BYTES", 50_000)
    with pytest.raises(ReconcileError, match="duplicate key"):
        reconcile_files(ours, ours, "setl_id", None, None, None)
