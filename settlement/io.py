"""Reading and writing tables: CSV or Parquet, chosen by file extension.

Money is int64 fen in memory. In CSV it is written as yuan text with two decimals
(``1234.50``); in Parquet as ``decimal128(18, 2)`` — exact in both, never a float.
Files are written to a temporary name and renamed, so a failed run leaves no partial file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from settlement import accumulators
from settlement.money import fen_to_yuan_text, parse_signed_yuan, parse_yuan
from settlement.reconcile import Side, is_money_field, looks_like_money

SUFFIXES = (".csv", ".parquet")
ACCUMULATOR_MONEY = ("base_cum", "paid_cum")


class TableFileError(ValueError):
    """A file that cannot be read or written as a table."""


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise TableFileError(f"{path}: use a .csv or .parquet file (got {suffix or 'no extension'!r})")
    return suffix


def read_text_table(path: str | Path) -> pd.DataFrame:
    """Every column as text, nothing guessed (amounts stay exact, ids keep leading zeros)."""
    path = Path(path)
    if not path.exists():
        raise TableFileError(f"{path}: no such file")
    if _kind(path) == ".csv":
        return _read_csv_text(path)
    frame: pd.DataFrame = pq.read_table(path).to_pandas()
    text: pd.DataFrame = frame.astype(str).where(frame.notna(), "")
    return text


def read_csv_header(path: Path) -> list[str]:
    """The column names of a CSV file (its first line)."""
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        raise TableFileError(f"{path}: empty file (no header line)")
    return header


def _read_csv_text(path: Path) -> pd.DataFrame:
    """A CSV file's cells as text (Arrow's multi-threaded reader; empty cells stay "")."""
    header = read_csv_header(path)
    options = pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False)
    try:
        table = pcsv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid as exc:
        raise TableFileError(f"{path}: {exc}") from exc
    frame: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return frame


def _decimal_array(fen: pd.Series) -> pa.Array:
    """int64 fen → decimal128(18, 2) holding the same unscaled integers (nulls kept)."""
    values = fen.to_numpy(dtype=np.float64, na_value=np.nan)
    valid = ~np.isnan(values)
    ints = np.where(valid, fen.fillna(0).to_numpy(np.int64), 0)
    words = np.empty((len(ints), 2), dtype=np.int64)
    words[:, 0], words[:, 1] = ints, np.where(ints < 0, -1, 0)
    mask = None if valid.all() else pa.array(valid).buffers()[1]  # validity bitmap: 1 = present
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(ints), [mask, pa.py_buffer(words.tobytes())])


def _yuan_column(fen: pd.Series) -> pd.Series:
    text = fen_to_yuan_text(fen.fillna(0).to_numpy(np.int64))
    return pd.Series(text, index=fen.index, dtype=object).where(fen.notna(), "")


def write_table(frame: pd.DataFrame, path: str | Path, money: Iterable[str]) -> None:
    """Write ``frame``; ``money`` columns are int fen and become exact yuan."""
    with TableWriter(Path(path), tuple(money)) as writer:
        writer.write(frame)


class TableWriter:
    """Write a table in chunks (same columns each time) to a temporary name; renamed when all went well."""

    def __init__(self, path: Path, money: tuple[str, ...]) -> None:
        self.path, self.money, self.kind = path, money, _kind(path)
        self.partial = path.with_name(f".{path.name}.partial")
        self.parquet: pq.ParquetWriter | None = None
        self.started = False

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        money = [c for c in self.money if c in frame.columns]
        if self.kind == ".csv":
            out = frame.copy()
            for column in money:
                out[column] = _yuan_column(frame[column])
            if self.started:
                out.to_csv(self.partial, index=False, encoding="utf-8", mode="a", header=False)
            else:
                out.to_csv(self.partial, index=False, encoding="utf-8")
        else:
            table = pa.Table.from_pandas(frame.drop(columns=money), preserve_index=False)
            for column in money:
                table = table.append_column(column, _decimal_array(frame[column]))
            table = table.select(list(frame.columns))
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.partial, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        self.started = True

    def __exit__(self, kind: object, *_: object) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if kind is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


def read_accumulators(path: str | Path) -> pd.DataFrame:
    """An accumulator file (columns in :data:`settlement.accumulators.COLUMNS`) → fen ints."""
    text = read_text_table(path)
    missing = [c for c in accumulators.COLUMNS if c not in text.columns]
    if missing:
        raise TableFileError(f"{path}: missing column(s) {missing}")
    frame = text[accumulators.COLUMNS].copy()
    for column in ("base_cum", "paid_cum"):
        fen, bad, reasons = parse_yuan(frame[column])
        if len(bad):
            raise TableFileError(f"{path}: row {bad[0] + 2}: {column}: {reasons[0]}")
        frame[column] = fen
    for column in ("year", "claims"):
        ok = frame[column].str.fullmatch(r"\d+")
        if not ok.all():
            raise TableFileError(f"{path}: row {int(np.argmin(ok)) + 2}: {column}: not a whole number")
        frame[column] = frame[column].astype(np.int64)
    return frame


class ColumnMapping(BaseModel):
    """How another party's payout file names things (a YAML file for ``medrelief reconcile``).

    ``key``: their column holding the settlement key; ``columns``: their name → our name (e.g.
    ``othfund_pay: supp_pay``, ``cash_payamt: psn_part_amt``); ``reversed``: their reversal
    flag column and the values meaning "reversed".
    """

    model_config = ConfigDict(extra="forbid")

    key: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    reversed_column: str | None = None
    reversed_values: list[str] = Field(default_factory=lambda: ["1"])

    @classmethod
    def load(cls, path: str | Path) -> ColumnMapping:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            return cls.model_validate(data)
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise TableFileError(f"{path}: not a column mapping: {exc}") from exc


def read_side(path: str | Path, name: str, key: str, mapping: ColumnMapping | None = None) -> Side:
    """A payout or settlement file as one side of a reconciliation (money parsed exactly)."""
    return side_of(read_text_table(path), name, key, mapping, where=str(path))


def side_of(text: pd.DataFrame, name: str, key: str, mapping: ColumnMapping | None = None, where: str = "") -> Side:
    """A table of text cells (a file's, or rows posted to the API) as one side of a reconciliation."""
    mapping = mapping or ColumnMapping()
    where = where or name
    text = text.rename(columns=mapping.columns)
    key_column = mapping.key or key
    if key_column not in text.columns:
        raise TableFileError(f"{where}: no key column {key_column!r} (columns: {list(text.columns)})")
    money = {}
    for column in (c for c in text.columns if is_money_field(str(c))):
        fen, bad, reasons = parse_signed_yuan(text[column])
        if len(bad):
            raise TableFileError(f"{where}: key {text[key_column].iloc[bad[0]]}: {column}: {reasons[0]}")
        money[str(column)] = fen
    flag = mapping.reversed_column or "refd_setl_flag"
    others = [str(c) for c in text.columns if str(c) not in money and c not in (key_column, flag, "category")]
    unknown = tuple(c for c in others if looks_like_money(text[c]))
    reversed_ = (
        text[flag].astype(str).isin(mapping.reversed_values).to_numpy(bool)
        if flag in text.columns
        else np.zeros(len(text), bool)
    )
    category = text["category"].astype(str).to_numpy(dtype=object) if "category" in text.columns else None
    return Side(name, text[key_column].astype(str), reversed_, money, unknown, category)
