"""The hot path's hand-written statements: placeholders, inserts, upserts, and values stored
exactly as SQLAlchemy stores them (the ORM reads back what the driver wrote), on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from api.db import make_engine, migrate
from api.models import Accumulator, AuditLog, Person
from api.sql import INSERT_PARAMS, Statement, driver, insert, inserts
from tests.api.conftest import BACKENDS, database_url
from tests.api.servers import Postgres


def test_placeholders_in_each_dialect() -> None:
    statement = Statement.of("SELECT a FROM t WHERE b = :b AND c::text = :c_1")
    assert statement.sqlite == "SELECT a FROM t WHERE b = :b AND c::text = :c_1"
    assert statement.postgresql == "SELECT a FROM t WHERE b = %(b)s AND c::text = %(c_1)s"
    with pytest.raises(ValueError, match="%"):
        Statement.of("SELECT a FROM t WHERE b LIKE 'x%'")


def test_inserts_only_known_tables_and_columns() -> None:
    with pytest.raises(ValueError, match="no table"):
        insert("person; DROP TABLE person", ("person_id",))
    with pytest.raises(ValueError, match="no table"):
        insert("person", ("person_id", "nonsense"))


def test_multi_row_inserts_stay_within_the_parameter_budget() -> None:
    rows = [{"person_id": f"P{i}", "year": 2024, "layer": "l", "bucket": "b"} for i in range(30)]
    statements = inserts("accumulator", rows)
    per_statement = INSERT_PARAMS // 4
    assert [len(params) for _, params in statements] == [4 * per_statement] * (30 // per_statement) + [
        4 * (30 % per_statement)
    ]
    assert statements[0][1]["person_id_0"] == "P0"
    assert statements[-1][1][f"person_id_{30 % per_statement - 1}"] == "P29"


@pytest.fixture(params=BACKENDS)
def session(request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path: Path) -> Iterator[Session]:
    url = database_url(request.param, postgres, tmp_path)
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_driver_writes_what_the_orm_reads(session: Session) -> None:
    at = datetime(2024, 3, 5, 6, 7, 8, 9, tzinfo=UTC)
    entry = {"at": at, "actor": "A", "action": "x", "entity": "e", "entity_id": "1", "detail": ""}
    db = driver(session)
    db.run_all(
        [
            *inserts("person", [{"person_id": "P1", "name": "", "id_number": "", "created_at": at}]),
            *inserts("auditlog", [entry]),
        ]
    )
    session.commit()
    person = session.exec(select(Person)).one()
    audit = session.exec(select(AuditLog)).one()
    assert person.created_at.replace(tzinfo=UTC) == at
    assert audit.at.replace(tzinfo=UTC) == at


def test_upsert_updates_existing_rows_and_reads_come_back_in_order(session: Session) -> None:
    db = driver(session)
    db.run_all(inserts("person", [{"person_id": "P1", "name": "", "id_number": "", "created_at": datetime.now(UTC)}]))
    key = ("person_id", "year", "layer", "bucket")
    sums = {"base_cum": 0, "claims": 1}
    first = [{"person_id": "P1", "year": 2024, "layer": "basic", "bucket": b, **sums, "paid_cum": 1} for b in "xy"]
    again = [{**first[0], "paid_cum": 5}, {**first[0], "bucket": "z", "paid_cum": 7}]
    db.run_all([*inserts("accumulator", first, upsert_on=key), *inserts("accumulator", again, upsert_on=key)])
    by_bucket = Statement.of("SELECT bucket, paid_cum FROM accumulator WHERE person_id = :p ORDER BY bucket")
    count = Statement.of("SELECT count(*) FROM accumulator WHERE year = :y")
    rows, total = db.read_all([(by_bucket, {"p": "P1"}), (count, {"y": date(2024, 1, 1).year})])
    assert rows == [("x", 5), ("y", 1), ("z", 7)]
    assert total == [(3,)]
    assert len(session.exec(select(Accumulator)).all()) == 3
