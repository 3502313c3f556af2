"""The service equals `medrelief settle` on the same claims in the same order, to the fen."""

from __future__ import annotations

import itertools
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.api.conftest import BACKENDS, database_url
from tests.api.servers import ROOT, Postgres, Server, prepare
from tests.helpers import CASES, RESULT_COLUMNS

SAMPLE = ROOT / "examples" / "sample-claims.csv"


def _claims(tmp: Path) -> Path:
    """The shared reference claims of persons whose categories identity periods can express (no two
    categories on one day), and every claim of the first 150 persons of the bundled sample."""
    cases = pd.read_csv(CASES / "demo-claims.csv", dtype=str, keep_default_na=False)
    per_day = cases.groupby(["person_id", "settle_date"])["category"].nunique()
    mixed = set(per_day[per_day > 1].index.get_level_values(0))
    sample = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    persons = sample["person_id"].drop_duplicates().iloc[:150]
    chosen = pd.concat([cases[~cases.person_id.isin(mixed)], sample[sample.person_id.isin(persons)]])
    path = tmp / "claims.csv"
    chosen.to_csv(path, index=False)
    return path


def _identities(claims: pd.DataFrame) -> dict[str, list[dict[str, str]]]:
    """Per person, identity periods that give each claim its category on its date (and only it)."""
    out: dict[str, list[dict[str, str]]] = {}
    for person, rows in claims.sort_values(["settle_date", "claim_id"]).groupby("person_id"):
        by_day = rows.groupby("settle_date")["category"].unique()
        assert all(len(c) == 1 for c in by_day), f"{person}: two categories on one day"
        periods: list[dict[str, str]] = []
        for day, (category,) in by_day.items():
            if periods and periods[-1]["category"] == category:
                periods[-1]["valid_to"] = str(day)
                continue
            periods.append({"category": str(category), "valid_from": str(day), "valid_to": str(day)})
        for current, following in itertools.pairwise(periods):
            current["valid_to"] = str(date.fromisoformat(following["valid_from"]) - timedelta(days=1))
        periods[-1].pop("valid_to")
        out[str(person)] = [p for p in periods if p["category"] != "general"]
    return out


def _cli_result(claims: Path, tmp: Path) -> pd.DataFrame:
    out = tmp / "cli.csv"
    command = [sys.executable, "-c", "from api.cli import app; app()", "settle", str(claims), "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return pd.read_csv(out, dtype=str).set_index("claim_id")


def _body(row: dict[str, str]) -> dict[str, object]:
    body: dict[str, object] = {k: row[k] for k in ("claim_id", "person_id", "med_type", "settle_date", "diagnosis")}
    body |= {k: row[k] for k in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")}
    return body | {"hospital_level": int(row["hospital_level"]), "accident": row["accident"] == "1"}


def _post_all(server: Server, rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Post ``rows`` in order on one connection; each claim's result columns."""
    got = {}
    with server.client() as hospital:
        for row in rows:
            response = hospital.post("/v1/settlements", json=_body(row))
            assert response.status_code == 201, response.text
            assert response.json()["category"] == row["category"]
            got[row["claim_id"]] = {c: response.json()[c] for c in RESULT_COLUMNS}
    return got


def _replayed(server: Server, tmp_path: Path, connections: int) -> None:
    """The claims posted over ``connections`` connections (each person's claims on one, in date
    order, so persons settle side by side in the service's batches) equal the CLI's result."""
    path = _claims(tmp_path)
    claims = pd.read_csv(path, dtype=str, keep_default_na=False)
    expected = _cli_result(path, tmp_path)
    with server.client("admin") as admin:
        for person, identities in _identities(claims).items():
            assert admin.post("/v1/persons", json={"person_id": person, "identities": identities}).status_code == 201
    ordered = claims.sort_values(["settle_date", "claim_id"])
    lane = ordered["person_id"].map({p: i % connections for i, p in enumerate(ordered["person_id"].unique())})
    lanes = [ordered[lane == i].to_dict("records") for i in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        got = {k: v for part in pool.map(lambda rows: _post_all(server, rows), lanes) for k, v in part.items()}
    api = pd.DataFrame.from_dict(got, orient="index")
    assert len(api) == len(claims) == len(expected) > 500
    pd.testing.assert_frame_equal(
        api.loc[expected.index, list(RESULT_COLUMNS)], expected[list(RESULT_COLUMNS)], check_names=False
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("workers", "connections"), [(1, 1), (2, 16)], ids=["one-by-one", "in-batches"])
def test_api_replay_equals_cli(
    backend: str, workers: int, connections: int, postgres: Postgres | str, tmp_path: Path
) -> None:
    """One claim at a time, and over 16 connections at once to 2 workers (batches of several
    persons' claims): the same results as the CLI."""
    url = database_url(backend, postgres, tmp_path)
    server = Server(url, prepare(url), workers=workers).start()
    try:
        _replayed(server, tmp_path, connections)
    finally:
        server.stop()
