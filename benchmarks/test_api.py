"""Single-claim settlement latency through HTTP (real uvicorn server, keep-alive client), SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.soak.servers import Postgres, Server, postgres_cluster, prepare

PERSONS = 200


def _claim(i: int) -> dict[str, Any]:
    return {
        "claim_id": uuid.uuid4().hex,
        "person_id": f"BP{i % PERSONS:04d}",
        "med_type": "21" if i % 3 == 0 else "14",
        "hospital_level": 1 + i % 3,
        "settle_date": "2024-06-01",
        "diagnosis": "C50.1" if i % 5 == 0 else "J18.9",
        "medfee_sumamt": f"{1000 + (i * 7919) % 40000}.00",
        "fulamt_ownpay_amt": "100.00",
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with postgres_cluster() as cluster:
        if request.param == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='medrelief-bench-')) / 'bench.db'}"
        elif isinstance(cluster, Postgres):
            url = cluster.create_database()
        else:
            pytest.skip(f"PostgreSQL: {cluster}")
        running = Server(url, prepare(url)).start()
        with running.client("admin") as admin:
            for i in range(PERSONS):
                identities = [{"category": ("dibao", "tekun", "general")[i % 3], "valid_from": "2024-01-01"}]
                admin.post("/v1/persons", json={"person_id": f"BP{i:04d}", "identities": identities}).raise_for_status()
        yield running
        running.stop()


def _latency(benchmark: Any, server: Server, call: Callable[[httpx.Client, dict[str, Any]], httpx.Response]) -> None:
    """``call`` with a fresh claim per round, concurrency 1, one keep-alive connection, after 100
    warm-up calls; p50/p99 in extra_info."""
    counter = iter(range(10**9))
    with httpx.Client(base_url=server.base_url, headers=server.headers(), timeout=30) as client:

        def one() -> None:
            response = call(client, _claim(next(counter)))
            assert response.is_success, response.text

        for _ in range(100):
            one()
        benchmark.pedantic(one, rounds=1000, iterations=1)
    cuts = statistics.quantiles(benchmark.stats.stats.data, n=100)
    benchmark.extra_info["p50_ms"] = round(cuts[49] * 1e3, 2)
    benchmark.extra_info["p99_ms"] = round(cuts[98] * 1e3, 2)
    print(f"\n{server.database_url.split(':')[0]}: p50 {cuts[49] * 1e3:.2f} ms, p99 {cuts[98] * 1e3:.2f} ms")


def test_settle_latency(benchmark: Any, server: Server) -> None:
    """One POST /v1/settlements (结算, stored) per round."""
    _latency(
        benchmark,
        server,
        lambda client, body: client.post("/v1/settlements", json=body, headers={"Idempotency-Key": body["claim_id"]}),
    )


def test_pre_settle_latency(benchmark: Any, server: Server) -> None:
    """One POST /v1/settlements/pre (试算: read and settled, nothing stored) per round."""
    _latency(benchmark, server, lambda client, body: client.post("/v1/settlements/pre", json=body))
