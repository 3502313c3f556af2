"""``medrelief demo``: start the service on SQLite, post sample claims to it over HTTP, show the results.

What a hospital integration does, end to end on this machine: the service is started (uvicorn,
a fresh SQLite file), a hospital and an administrator key are created, the persons of the sample
claims are registered with their relief identity, every claim is posted to ``POST
/v1/settlements`` in settlement order, and the answers are checked against the batch engine
(``medrelief settle``) on the same claims, to the fen.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from api.auth import create_key
from api.config import Settings
from api.db import pooled_transaction
from api.main import create_app
from settlement.engine import settle
from settlement.money import fen_to_decimal
from tiers.codes import PAYMENT_COLUMNS

SAMPLE = Path(__file__).parents[1] / "examples" / "sample-claims.csv"
SHOWN = ("inscp_scp_amt", *PAYMENT_COLUMNS, "fund_pay_sumamt", "psn_part_amt")
console = Console()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(database: Path, port: int) -> tuple[uvicorn.Server, FastAPI, dict[str, str]]:
    app = create_app(Settings(database_url=f"sqlite:///{database}"))
    with pooled_transaction(app.state.database) as db:
        keys = {"hospital": create_key(db, "DEMO-HOSPITAL", "hospital", "示范医院")}
        keys["admin"] = create_key(db, "DEMO-ADMIN", "admin", "示范医保局")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="demo-server")
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, app, keys


def _claims(path: Path, persons: int) -> pd.DataFrame:
    claims = pd.read_csv(path, dtype=str, keep_default_na=False)
    chosen = claims["person_id"].drop_duplicates().iloc[:persons]
    return claims[claims["person_id"].isin(chosen)].sort_values(["settle_date", "claim_id"])


def _body(row: dict[Any, Any]) -> dict[str, Any]:
    fields = ("claim_id", "person_id", "med_type", "settle_date", "diagnosis", "medfee_sumamt", "fulamt_ownpay_amt")
    body: dict[str, Any] = {f: row[f] for f in (*fields, "overlmt_selfpay", "preselfpay_amt")}
    return body | {"hospital_level": int(row["hospital_level"]), "accident": row["accident"] == "1"}


def _post_all(base_url: str, keys: dict[str, str], claims: pd.DataFrame) -> dict[str, dict[str, Any]]:
    admin = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=30)
    hospital = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {keys['hospital']}"}, timeout=30)
    for person, category in claims.groupby("person_id")["category"].first().items():
        identities = (
            [] if category == "general" else [{"category": category, "valid_from": "2020-01-01", "source": "民政"}]
        )
        admin.post("/v1/persons", json={"person_id": person, "identities": identities}).raise_for_status()
    answers = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("POST /v1/settlements", total=len(claims))
        for row in claims.to_dict("records"):
            response = hospital.post("/v1/settlements", json=_body(row), headers={"Idempotency-Key": row["claim_id"]})
            response.raise_for_status()
            answers[row["claim_id"]] = response.json()
            progress.advance(task)
    return answers


def _summary(answers: dict[str, dict[str, Any]], seconds: float) -> Table:
    table = Table(title=f"{len(answers)} claims settled through the service in {seconds:.1f} s")
    table.add_column("column")
    table.add_column("total (yuan)", justify="right")
    for column in SHOWN:
        table.add_row(column, f"{sum(Decimal(a[column]) for a in answers.values()):,.2f}")
    return table


def _agrees_with_batch(claims: pd.DataFrame, answers: dict[str, dict[str, Any]], policy: Any) -> int:
    """How many claims the service settled exactly as the batch engine does."""
    frame = settle(claims, policy).frame()
    batch = {str(row["claim_id"]): row for row in frame.to_dict("records")}
    return sum(
        all(fen_to_decimal(int(batch[claim_id][c])) == Decimal(answer[c]) for c in SHOWN)
        for claim_id, answer in answers.items()
    )


def _stopped(seconds: float = 30.0) -> None:
    """Wait for the demo server's thread to finish: a process leaving while it still serves (its
    compiled code, its database connections) may crash at exit."""
    for thread in threading.enumerate():
        if thread.name == "demo-server":
            thread.join(seconds)


def run_demo(claims_file: Path | None, persons: int, keep_serving: bool) -> None:
    path = claims_file or SAMPLE
    database = Path(tempfile.mkdtemp(prefix="medrelief-demo-")) / "medrelief.db"
    port = _free_port()
    server, app, keys = _start(database, port)
    base_url = f"http://127.0.0.1:{port}"
    console.print(f"service on {base_url} (SQLite {database}); hospital key {keys['hospital']}", soft_wrap=True)
    claims = _claims(path, persons)
    started = time.perf_counter()
    answers = _post_all(base_url, keys, claims)
    console.print(_summary(answers, time.perf_counter() - started))
    same = _agrees_with_batch(claims, answers, app.state.policy)
    console.print(f"identical to the batch engine (medrelief settle) on the same claims: {same}/{len(answers)}")
    example = next(iter(answers.values()))
    slip = f"{base_url}/v1/settlements/{example['setl_id']}/slip"
    if keep_serving:
        console.print(f"a settlement slip: curl -H 'Authorization: Bearer {keys['hospital']}' {slip}", soft_wrap=True)
        console.print("serving until Ctrl-C")
        while True:
            time.sleep(3600)
    saved = database.parent / "slip.html"  # the service stops now: the slip is kept as a file
    saved.write_bytes(httpx.get(slip, headers={"Authorization": f"Bearer {keys['hospital']}"}, timeout=30).content)
    console.print(f"a settlement slip: {saved} (open it in a browser; --keep-serving keeps the API up)", soft_wrap=True)
    server.should_exit = True
    _stopped()
    if same != len(answers):
        raise SystemExit(1)
