"""Kill the server mid-load: after restart every acknowledged settlement is there, no partial one
is, and the books agree (Σ settlements + adjustments == accumulators)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.books import checks
from api.books.driver import Statement
from api.db import open_database, pooled_transaction
from tests.api.conftest import database_url
from tests.api.helpers import claim, register
from tests.api.servers import Postgres, Server, postgres_cluster, prepare
from tiers.loader import load_policy
from tiers.tables import compile_policy

SETTLEMENT_IDS = Statement.of("SELECT setl_id FROM settlement")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_server(request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path: Path) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path)
    running = Server(url, prepare(url)).start()
    yield running
    running.stop()


def _load(server: Server, persons: list[str], acknowledged: list[str], stop: threading.Event) -> None:
    with server.client() as hospital:
        day = 0
        while not stop.is_set():
            day += 1
            for person in persons:
                body = claim(person, settle_date=f"2024-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}")
                try:
                    response = hospital.post(
                        "/v1/settlements", json=body, headers={"Idempotency-Key": body["claim_id"]}
                    )
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["setl_id"])


def test_kill_mid_load_loses_nothing_acknowledged(fresh_server: Server) -> None:
    with fresh_server.client("admin") as admin:
        persons = [register(admin, category=c) for c in ("dibao", "tekun", "illness_poverty", None)]
    acknowledged: list[str] = []
    stop = threading.Event()
    workers = [threading.Thread(target=_load, args=(fresh_server, [p], acknowledged, stop)) for p in persons]
    for w in workers:
        w.start()
    time.sleep(2.5)
    fresh_server.kill()
    stop.set()
    for w in workers:
        w.join(30)
    assert len(acknowledged) > 20
    fresh_server.start()
    engine = open_database(fresh_server.database_url)
    with pooled_transaction(engine, read_only=True) as db:
        stored = {row[0] for row in db.rows(SETTLEMENT_IDS, {})}
        assert set(acknowledged) <= stored
        assert checks.problems(db, compile_policy(load_policy("demo"))) == []
    engine.dispose()
    with fresh_server.client() as hospital:
        assert hospital.post("/v1/settlements", json=claim(persons[0], settle_date="2024-12-31")).status_code == 201


def test_database_restart_fails_requests_cleanly_and_the_service_recovers() -> None:
    """PostgreSQL restarted under a running service: a request on a dropped connection gets 503
    ``database_unavailable`` (never a 500, nothing half-written), a retry with the same key
    settles once, and the service recovers without its own restart."""
    with postgres_cluster() as cluster:
        if not isinstance(cluster, Postgres):
            pytest.skip(f"PostgreSQL TESTS SKIPPED: {cluster}")
        url = cluster.create_database()
        server = Server(url, prepare(url)).start()
        try:
            with server.client("admin") as admin:
                person = register(admin, category="dibao")
            with server.client() as hospital:
                bodies = [claim(person, settle_date=f"2024-03-{day:02d}") for day in range(1, 9)]
                for body in bodies[:4]:  # several pooled connections in use
                    assert _post(hospital, body).status_code == 201
                cluster.restart()
                unavailable = 0
                for body in bodies[4:]:  # in date order: each retried until it settles
                    answers = [_post(hospital, body) for _ in range(3)]
                    codes = [a.status_code for a in answers]
                    assert 201 in codes, [a.text for a in answers]
                    assert set(codes) <= {201, 503}
                    failed = [a.json()["code"] for a in answers[: codes.index(201)]]
                    assert set(failed) <= {"database_unavailable"}
                    unavailable += len(failed)
                assert unavailable >= 1  # the dropped pooled connections were met, and answered 503
        finally:
            server.stop()
        _assert_books(url, expected=8)


def _post(client: httpx.Client, body: dict[str, object]) -> httpx.Response:
    return client.post("/v1/settlements", json=body, headers={"Idempotency-Key": str(body["claim_id"])})


def _assert_books(url: str, expected: int) -> None:
    engine = open_database(url)
    with pooled_transaction(engine, read_only=True) as db:
        assert len(db.rows(SETTLEMENT_IDS, {})) == expected
        assert checks.problems(db, compile_policy(load_policy("demo"))) == []
    engine.dispose()
