"""API test fixtures: one real server per backend (SQLite file, private PostgreSQL cluster)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.db import migrate, open_database
from tests.api.servers import Postgres, Server, postgres_cluster, prepare

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres | str]:
    with postgres_cluster() as cluster:
        yield cluster


def database_url(backend: str, postgres: Postgres | str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'medrelief.db'}"
    if isinstance(postgres, str):
        if os.environ.get("MEDRELIEF_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but unavailable: {postgres}")
        pytest.skip(f"PostgreSQL TESTS SKIPPED: {postgres}")
    return postgres.create_database()


def migrated_engine(backend: str, postgres: Postgres | str, tmp: Path) -> Engine:
    """An engine on a fresh database of ``backend`` at the newest schema."""
    url = database_url(backend, postgres, tmp)
    migrate(url)
    return open_database(url)


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path_factory.mktemp(request.param))
    running = Server(url, prepare(url)).start()
    yield running
    running.stop()
