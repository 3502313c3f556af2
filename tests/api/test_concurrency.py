"""≥ 64 concurrent settlements for one person at a real server: caps hold, nothing is lost or doubled.

The server runs several worker processes (each settles one claim at a time on its event loop),
so the requests really race: on PostgreSQL for the person's row lock and the key's advisory
lock, on SQLite for the database's write lock across processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from tests.api.conftest import BACKENDS, database_url
from tests.api.helpers import buckets, claim, register
from tests.api.servers import Postgres, Server, prepare

N = 64
WORKERS = 3


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path_factory.mktemp(request.param))
    running = Server(url, prepare(url), workers=WORKERS).start()
    yield running
    running.stop()


def test_concurrent_settlements_for_one_person_never_overspend(server: Server) -> None:
    with server.client("admin") as admin:
        person = register(admin, category="illness_poverty")
    # illness_poverty: assistance cap 20,000 per year; 64 inpatient claims of 30,000 each exhaust it
    # (and the basic outpatient... no: inpatient cap 250,000 too) many times over.
    bodies = [claim(person, medfee_sumamt="30000.00", fulamt_ownpay_amt="0.00", diagnosis="J18.9") for _ in range(N)]

    def post(body: dict[str, object]) -> httpx.Response:
        with server.client() as hospital:
            return hospital.post("/v1/settlements", json=body, headers={"Idempotency-Key": str(body["claim_id"])})

    with ThreadPoolExecutor(N) as pool:
        responses = list(pool.map(post, bodies))
    assert [r.status_code for r in responses] == [201] * N, {r.status_code: r.text for r in responses}
    results = [r.json() for r in responses]
    with server.client() as hospital:
        stored = buckets(hospital, person)
    for output, layer, bucket, cap in (
        ("hifp_pay", "basic", "inpatient", Decimal(250_000)),
        ("maf_pay", "assistance", "assistance", Decimal(20_000)),
    ):
        total = sum(Decimal(r[output]) for r in results)
        assert total <= cap
        assert Decimal(stored[(layer, bucket)]) == total
    assert sum(Decimal(r["maf_pay"]) for r in results) == Decimal(20_000)


def test_same_key_in_parallel_settles_once(server: Server) -> None:
    with server.client("admin") as admin:
        person = register(admin)
    body = claim(person)

    def post(_: int) -> httpx.Response:
        with server.client() as hospital:
            return hospital.post("/v1/settlements", json=body, headers={"Idempotency-Key": "same-" + body["claim_id"]})

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(post, range(16)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}, codes
    created = {r.json()["setl_id"] for r in responses if r.status_code == 201}
    assert len(created) == 1, "one settlement, replayed to every other 201"
    assert all(r.json()["code"] == "request_in_flight" for r in responses if r.status_code == 409)
    with server.client() as hospital:
        assert buckets(hospital, person)[("basic", "inpatient")] == "33740.00"
