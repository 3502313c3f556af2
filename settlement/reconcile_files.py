"""Reconciling two files of any size in bounded memory: split both by key hash, reconcile part by part.

Pass 1 reads each file in batches (Arrow's streaming CSV reader, or Parquet row groups), parses
each batch exactly like a whole file (:func:`settlement.io.side_of`: mapping, money, reversal
flag, errors naming the key) and appends its rows to one of ``parts`` Parquet files chosen by a
hash of the key — so a key's rows on both sides always land in the same part. Pass 2 reconciles
the parts one at a time with :func:`settlement.reconcile.reconcile` and appends each part's
report to the output; counts and totals are added up. Memory is one batch in pass 1 and one part
(both sides) in pass 2; duplicate keys are still found (they share a part).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from settlement import io
from settlement.reconcile import OUTCOMES, Columns, Plan, Reconciliation, Side, plan, reconcile

BATCH_BYTES = 64 << 20
PART_BYTES = 192 << 20
"""Input bytes per part (both files together): ~1 M rows of settlement CSV."""
Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total) — bytes read in pass 1, parts reconciled in pass 2."""


@dataclass(frozen=True)
class Summary:
    """Counts per outcome and totals per field of a whole (streamed) reconciliation."""

    counts: dict[str, int]
    totals: pd.DataFrame
    plan: Plan | None = None

    @property
    def result(self) -> Reconciliation:
        return Reconciliation(pd.DataFrame(), self.counts, self.totals, self.plan)


def _batches(path: Path) -> Iterator[tuple[pd.DataFrame, int]]:
    """Text cells of ``path`` in batches, with the bytes read so far (CSV) or row groups done (Parquet)."""
    if not path.exists():
        raise io.TableFileError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        reader = pq.ParquetFile(path)
        for i in range(reader.num_row_groups):
            frame = reader.read_row_group(i).to_pandas()
            yield frame.astype(str).where(frame.notna(), ""), int(path.stat().st_size * (i + 1) / reader.num_row_groups)
        return
    header = io.read_csv_header(path)
    options = pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False)
    try:
        stream = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=BATCH_BYTES), convert_options=options)
        done = 0
        for batch in stream:
            done += batch.nbytes
            yield batch.to_pandas(types_mapper=pd.ArrowDtype), min(done, path.stat().st_size)
    except pa.ArrowInvalid as exc:
        raise io.TableFileError(f"{path}: {exc}") from exc


def _part_of(keys: pd.Series, parts: int) -> np.ndarray:
    hashed = pd.util.hash_array(keys.to_numpy(dtype=object))
    return (hashed % np.uint64(parts)).astype(np.int64)


def _side_table(side: Side, rows: np.ndarray) -> pa.Table:
    columns = {"key": pa.array(np.asarray(side.key, dtype=object)[rows], pa.string())}
    columns["reversed"] = pa.array(side.reversed[rows])
    columns |= {f: pa.array(v[rows]) for f, v in side.money.items()}
    if side.category is not None:
        columns["category"] = pa.array(side.category[rows], pa.string())
    return pa.table(columns)


def split(
    path: Path,
    name: str,
    key: str,
    mapping: io.ColumnMapping | None,
    folder: Path,
    parts: int,
    progress: Progress | None,
) -> Columns:
    """Pass 1 for one file: its rows into ``folder/<name>-<part>.parquet``; returns its money columns
    (and those holding amounts under other names, in any batch)."""
    writers: dict[int, pq.ParquetWriter] = {}
    fields: tuple[str, ...] = ()
    unknown: dict[str, None] = {}
    try:
        for frame, done in _batches(path):
            side = io.side_of(frame, name, key, mapping, where=str(path))
            fields = tuple(side.money)
            unknown |= dict.fromkeys(side.unknown)
            part = _part_of(pd.Series(side.key), parts)
            for p in np.unique(part):
                table = _side_table(side, np.flatnonzero(part == p))
                if p not in writers:
                    writers[p] = pq.ParquetWriter(folder / f"{name}-{p}.parquet", table.schema)
                writers[p].write_table(table)
            if progress:
                progress(f"reading {path.name}", done, path.stat().st_size)
    finally:
        for writer in writers.values():
            writer.close()
    return Columns(fields, tuple(unknown))


def _load(folder: Path, name: str, part: int, fields: tuple[str, ...]) -> Side:
    path = folder / f"{name}-{part}.parquet"
    if not path.exists():
        empty = np.zeros(0, np.int64)
        return Side(name, np.zeros(0, object), np.zeros(0, bool), dict.fromkeys(fields, empty))
    table = pq.read_table(path)
    money = {f: table.column(f).to_numpy() for f in fields}
    key = table.column("key").to_numpy(zero_copy_only=False)
    category = table.column("category").to_numpy(zero_copy_only=False) if "category" in table.column_names else None
    return Side(name, key, table.column("reversed").to_numpy(zero_copy_only=False), money, category=category)


def reconcile_files(
    ours: Path,
    theirs: Path,
    key: str,
    mapping: io.ColumnMapping | None,
    fields: tuple[str, ...] | None,
    report: Path | None,
    progress: Progress | None = None,
    excluded: tuple[str, ...] = (),
) -> Summary:
    """Reconcile two files part by part (see the module docstring); the report is appended to ``report``."""
    size = sum(p.stat().st_size for p in (ours, theirs) if p.exists())
    parts = max(1, math.ceil(size / PART_BYTES))
    with tempfile.TemporaryDirectory(prefix="medrelief-reconcile-") as tmp:
        folder = Path(tmp)
        mine = split(ours, "ours", key, None, folder, parts, progress)
        other = split(theirs, "theirs", key, mapping, folder, parts, progress)
        chosen = plan(mine, other, fields, excluded)
        counts = dict.fromkeys(OUTCOMES, 0)
        totals = np.zeros((len(chosen.compared), 2), np.int64)
        with io.TableWriter(report, ("ours", "theirs")) if report else _Discard() as writer:
            for p in range(parts):
                sides = _load(folder, "ours", p, mine.fields), _load(folder, "theirs", p, other.fields)
                result = reconcile(*sides, chosen.compared, chosen)
                writer.write(result.report)
                counts = {o: counts[o] + result.counts[o] for o in OUTCOMES}
                totals += result.totals[["ours", "theirs"]].to_numpy(np.int64)
                if progress:
                    progress("reconciling", p + 1, parts)
    frame = pd.DataFrame({"field": list(chosen.compared), "ours": totals[:, 0], "theirs": totals[:, 1]})
    return Summary(counts, frame.assign(difference=frame["ours"] - frame["theirs"]), chosen)


class _Discard:
    def __enter__(self) -> _Discard:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def write(self, frame: pd.DataFrame) -> None:
        return None
