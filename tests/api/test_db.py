"""The migrations build exactly the tables the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from api import models  # noqa: F401  (models: the tables)
from api.books import reading
from api.books.driver import Statement
from api.db import migrate, open_database, pooled_transaction
from tests.api.conftest import BACKENDS, database_url
from tests.api.servers import Postgres


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models(backend: str, postgres: Postgres | str, tmp_path: Path) -> None:
    url = database_url(backend, postgres, tmp_path)
    migrate(url)
    engine = open_database(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_the_settlement_reading_searches_every_table_by_an_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate(url)
    engine = open_database(url)
    params = {f"{name}_{i}": "x" for name in reading.NAMES for i in range(2)}
    plan = []
    with engine.connect() as connection:
        for statement in reading.sqlite_reading((2,) * len(reading.NAMES)):  # what every batch of settlements runs
            plan += [
                str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement.sqlite, params)
            ]
    engine.dispose()
    indexes = {line.split(" INDEX ")[1].split()[0] for line in plan if line.startswith("SEARCH")}
    assert indexes == {
        "sqlite_autoindex_idempotencyrecord_1",
        "sqlite_autoindex_person_1",
        "ix_identity_person_id",
        "sqlite_autoindex_accumulator_1",
        "ix_settlement_person_year",  # the person's settlements: last arrival, the year's sums
        "ix_adjustment_person_id",
        "ux_settlement_standing_claim",  # without it SQLite once walked all of a hospital's settlements
    }
    assert all("INDEX" in line for line in plan if line.startswith("SEARCH"))
    # a person's settlements are read from the index alone: not a table row per settlement
    assert sum("settlement USING COVERING INDEX ix_settlement_person_year" in line for line in plan) == 2
    scans = [line for line in plan if line.startswith("SCAN") and "json_each" not in line]
    assert scans == ["SCAN r"] * 3  # r: the rows made by the GROUP BYs (last arrival, the books so far)


def test_a_sqlite_transaction_takes_the_connection_returned_last(tmp_path: Path) -> None:
    """Its page cache is still valid: SQLite drops a connection's cache once another has written."""
    url = f"sqlite:///{tmp_path / 'lifo.db'}"
    migrate(url)
    engine = open_database(url)
    first, second = engine.raw_connection(), engine.raw_connection()  # two connections in the pool
    second.cursor().execute("CREATE TEMP TABLE marker (x)")  # a temp table: this connection's own
    first.close()
    second.close()
    marked = Statement.of("SELECT count(*) FROM temp.sqlite_master WHERE name = 'marker'")
    for read_only in (False, True, False):
        with pooled_transaction(engine, read_only=read_only) as db:
            assert db.rows(marked, {}) == [(1,)]
    engine.dispose()
