"""The migrations build exactly the tables the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from api import models, store  # noqa: F401  (models: the tables)
from api.db import make_engine, migrate
from tests.api.conftest import BACKENDS, database_url
from tests.api.servers import Postgres


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models(backend: str, postgres: Postgres | str, tmp_path: Path) -> None:
    url = database_url(backend, postgres, tmp_path)
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_the_claim_lookup_uses_the_institution_claim_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        query = store.ACTIVE_CLAIM.sqlite  # the statement every settlement runs
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + query, {"i": "H", "c": "C"}).all()
    engine.dispose()
    assert "ix_settlement_institution_claim" in " ".join(str(row[-1]) for row in plan)
