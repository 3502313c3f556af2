"""The floor under the service's concurrency-1 throughput on this machine: the same HTTP stack
and the same durable commit, without the settlement.

    python -m benchmarks.floor --tables 0 7 --seconds 8

Serves one FastAPI route ``POST /v1/settlements`` (uvicorn, uvloop, httptools — as
``medrelief serve``) that, per request, inserts one 220-byte row into each of ``--tables``
tables with a random-key index and commits on a SQLite file in WAL with ``synchronous=FULL``
(``--tables 0``: no database at all). A settlement writes ~15 WAL frames (pages) per commit —
the settlement, its lines, the touched accumulators, the idempotency record, the audit entry
and their indexes — which is what 7 tables of two B-trees each write. The client is the load
test's (``benchmarks/socket_client.py``, one keep-alive connection per concurrency level).
Whatever the service spends above this floor is its own work per request: reading the person,
the engine, building the rows and the response.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi import FastAPI, Request, Response

from benchmarks import socket_client

TABLES_VARIABLE, DATABASE_VARIABLE = "MEDRELIEF_FLOOR_TABLES", "MEDRELIEF_FLOOR_DATABASE"
ROW = "x" * 200


def _database(path: str, tables: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # as the service's (api.db)
    for k in range(tables):
        connection.execute(f"CREATE TABLE IF NOT EXISTS t{k} (id INTEGER PRIMARY KEY, k TEXT, v TEXT)")
        connection.execute(f"CREATE INDEX IF NOT EXISTS ix{k} ON t{k} (k)")
    return connection


def app() -> FastAPI:
    """The floor's application (a uvicorn factory), configured by the environment."""
    tables = int(os.environ.get(TABLES_VARIABLE, "0"))
    connection = _database(os.environ[DATABASE_VARIABLE], tables) if tables else None
    service = FastAPI()

    @service.post("/v1/settlements", status_code=201)
    async def commit(request: Request) -> Response:
        await request.body()
        if connection is not None:
            connection.execute("BEGIN IMMEDIATE")
            for k in range(tables):
                connection.execute(f"INSERT INTO t{k} (k, v) VALUES (?, ?)", (secrets.token_hex(8), ROW))  # noqa: S608
            connection.execute("COMMIT")
        return Response(b'{"ok":true}', status_code=201, media_type="application/json")

    return service


def _request() -> bytes:
    body = b'{"claim_id":"floor"}'
    head = ["POST /v1/settlements HTTP/1.1", "Host: floor", "Content-Type: application/json"]
    head.append(f"Content-Length: {len(body)}")
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


def _started(port: int, tables: int, database: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, TABLES_VARIABLE: str(tables), DATABASE_VARIABLE: str(database)}
    command = [sys.executable, "-m", "uvicorn", "benchmarks.floor:app", "--factory", "--port", str(port)]
    options = ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen([*command, *options], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the floor's server did not start within 30 s")


def measure(tables: int, concurrency: int, seconds: float) -> str:
    """One level: a fresh server and database, a one-second warm-up, then ``seconds`` of load."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="medrelief-floor-") as directory:
        server = _started(port, tables, Path(directory) / "floor.db")
        try:
            socket_client.run("127.0.0.1", port, _request, concurrency, 1.0)
            result = socket_client.run("127.0.0.1", port, _request, concurrency, seconds)
        finally:
            server.terminate()
            server.wait()
    latencies = sorted(result.latencies)
    if not latencies:
        raise SystemExit(f"no request succeeded ({result.errors} errors)")
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    rate, errors = len(latencies) / seconds, result.errors
    level = f"tables {tables}, concurrency {concurrency}"
    return f"{level}: {rate:.0f}/s, p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, errors {errors}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, nargs="+", default=[0, 7], help="tables written per request (0: none)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1])
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    for tables in args.tables:
        for concurrency in args.concurrency:
            print(measure(tables, concurrency, args.seconds), flush=True)


if __name__ == "__main__":
    main()
