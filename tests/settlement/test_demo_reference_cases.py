"""The shared reference settlement of the demo policy (../shared/cases), reproduced to the fen."""

from __future__ import annotations

import pandas as pd

from settlement.engine import settle
from tests.helpers import CASES, RESULT_COLUMNS, oracle_rows, result_in_yuan
from tests.oracle import settle_reference
from tiers.loader import load_policy


def _expected() -> pd.DataFrame:
    return pd.read_csv(CASES / "demo-expected.csv", dtype=str)


def _claims() -> pd.DataFrame:
    return pd.read_csv(CASES / "demo-claims.csv", dtype=str, keep_default_na=False)


def test_engine_reproduces_every_row() -> None:
    result = result_in_yuan(settle(_claims(), load_policy("demo")))
    expected = _expected()
    assert len(result) == len(expected) == 159
    for row in expected.to_dict("records"):
        got = {c: f"{result[row['claim_id']][c]:.2f}" for c in RESULT_COLUMNS}
        assert got == {c: row[c] for c in RESULT_COLUMNS}, row["claim_id"]


def test_reference_reproduces_every_row() -> None:
    out, _ = settle_reference(oracle_rows(_claims()), load_policy("demo"))
    for row in _expected().to_dict("records"):
        assert {c: f"{out[row['claim_id']][c]:.2f}" for c in RESULT_COLUMNS} == {c: row[c] for c in RESULT_COLUMNS}


def test_output_keeps_input_order() -> None:
    claims = _claims()
    assert settle(claims, load_policy("demo")).frame()["claim_id"].tolist() == claims["claim_id"].tolist()
