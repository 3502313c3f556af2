"""Shared test helpers: claim frames from plain dicts, golden cases, oracle adapters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from settlement.claims import ADMISSION, AMOUNT_COLUMNS, CLAIM_COLUMNS, FLAG_COLUMNS
from settlement.engine import SettledBatch, output_money
from tiers.codes import PAYMENT_COLUMNS

CASES = Path(__file__).parent / "cases"
GOLDEN = sorted((CASES / "golden").glob("*.yaml"))
RESULT_COLUMNS = output_money(PAYMENT_COLUMNS)


def claims_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Claims as the text a CSV file would hold (the optional claim attributes where rows have them)."""
    optional = (*FLAG_COLUMNS, ADMISSION)
    columns = [*CLAIM_COLUMNS, *(f for f in optional if rows and f in rows[0])]
    return pd.DataFrame([{c: str(row[c]) for c in columns} for row in rows], columns=columns)


def oracle_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The same claims as dicts for tests.oracle (amounts as Decimal yuan)."""
    rows: list[dict[str, Any]] = [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
    for row in rows:
        for column in AMOUNT_COLUMNS:
            row[column] = Decimal(row[column])
    return rows


def load_golden(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if str(case["policy"]).endswith(".yaml"):  # a test region's file, beside the golden cases
        case["policy"] = str((path.parent / case["policy"]).resolve())
    defaults = case.get("defaults", {})
    case["rows"] = [{**defaults, **claim} for claim in case["claims"]]
    return case


def yuan(fen: int) -> Decimal:
    return Decimal(int(fen)) / 100


def result_in_yuan(result: SettledBatch) -> dict[str, dict[str, Decimal]]:
    """Engine output keyed by claim_id, amounts as Decimal yuan."""
    frame = result.frame()
    money = output_money(result.policy.outputs)
    return {str(row["claim_id"]): {c: yuan(row[c]) for c in money} for row in frame.to_dict("records")}
