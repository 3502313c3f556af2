"""The books' statements: placeholders, inserts, upserts, and values stored exactly as SQLAlchemy
stores them (the ORM — the schema's models — reads back what the driver wrote), on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlmodel import Session, select

from api.books.driver import Driver, Rows, Statement, Write, insert_sql, inserts, merged
from api.models import Accumulator, AuditLog, IdempotencyRecord, Identity, Person
from tests.api.conftest import BACKENDS, migrated_engine
from tests.api.servers import Postgres


def test_placeholders_in_each_dialect() -> None:
    statement = Statement.of("SELECT a FROM t WHERE b = :b AND c::text = :c_1")
    assert statement.sqlite == "SELECT a FROM t WHERE b = :b AND c::text = :c_1"
    assert statement.postgresql == "SELECT a FROM t WHERE b = %(b)s AND c::text = %(c_1)s"
    with pytest.raises(ValueError, match="%"):
        Statement.of("SELECT a FROM t WHERE b LIKE 'x%'")


def test_inserts_only_known_tables_and_columns() -> None:
    with pytest.raises(ValueError, match="no table"):
        insert_sql("person; DROP TABLE person", ("person_id",))
    with pytest.raises(ValueError, match="no table"):
        inserts("person", [{"person_id": "P1", "nonsense": 1}])
    with pytest.raises(ValueError, match="no table"):
        insert_sql("accumulator", ("person_id",), upsert_on=("nonsense",))


def test_insert_text_in_each_style() -> None:
    assert insert_sql("person", ("person_id", "name")) == "INSERT INTO person (person_id, name) VALUES (?, ?)"
    assert insert_sql("accumulator", ("person_id", "paid_cum", "claims"), postgresql=True) == (
        "INSERT INTO accumulator (person_id, paid_cum, claims)"
        " SELECT (r->>0)::VARCHAR, (r->>1)::BIGINT, (r->>2)::INTEGER FROM jsonb_array_elements(%s::jsonb) AS r"
    )
    upsert = insert_sql("accumulator", ("person_id", "claims"), upsert_on=("person_id",), postgresql=True)
    assert upsert.endswith("ON CONFLICT (person_id) DO UPDATE SET claims = excluded.claims")
    kept = insert_sql("person", ("person_id",), upsert_on=("person_id",), update=False)
    assert kept == "INSERT INTO person (person_id) VALUES (?) ON CONFLICT (person_id) DO NOTHING"


def test_postgresql_sends_bytes_apart_from_the_json() -> None:
    sql = insert_sql("submitteddocument", ("setl_id", "body", "protocol"), postgresql=True)
    assert sql == (
        "INSERT INTO submitteddocument (setl_id, body, protocol)"
        " SELECT (r->>0)::VARCHAR, (%b::bytea[])[n], (r->>2)::VARCHAR"
        " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS j(r, n)"
    )


def test_merged_gathers_each_tables_rows_at_its_first_place() -> None:
    def row(table: str, value: str) -> Rows:
        return Rows(table, ("person_id",), [(value,)])

    other: Write = (Statement.of("SELECT 1"), {})
    writes: list[Write] = [
        row("person", "P1"),
        row("auditlog", "A1"),
        other,
        row("person", "P2"),
        row("auditlog", "A2"),
    ]
    assert merged(writes) == [
        Rows("person", ("person_id",), [("P1",), ("P2",)]),
        Rows("auditlog", ("person_id",), [("A1",), ("A2",)]),
        other,
    ]


def driver(session: Session) -> Driver:
    """The DBAPI connection of the session's transaction, as the books drive it."""
    connection = session.connection()
    return Driver(connection.connection.driver_connection, postgresql=connection.dialect.name == "postgresql")


@pytest.fixture(params=BACKENDS)
def session(request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path: Path) -> Iterator[Session]:
    engine = migrated_engine(request.param, postgres, tmp_path)
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


def _person(db: Driver, person_id: str = "P1") -> None:
    person = {"person_id": person_id, "name": "", "id_number": "", "created_at": datetime.now(UTC)}
    db.run_all(inserts("person", [person]))


def _accumulators(n: int, paid_each: int) -> list[dict[str, Any]]:
    """``n`` buckets; bucket i has paid i × ``paid_each``."""
    columns = ("person_id", "year", "layer", "bucket", "base_cum", "paid_cum", "claims")
    return [dict(zip(columns, ("P1", 2024, "basic", f"b{i}", i, i * paid_each, 1), strict=True)) for i in range(n)]


def test_many_rows_arrive_in_one_statement(session: Session) -> None:
    db = driver(session)
    _person(db)
    n = 40_000  # beyond the 65,535 bound values of one statement, had they been passed one by one
    db.run_all(inserts("accumulator", _accumulators(n, 2)))
    count = Statement.of("SELECT count(*), sum(paid_cum) FROM accumulator WHERE person_id = :p")
    assert db.rows(count, {"p": "P1"}) == [(n, n * (n - 1))]


def test_postgresql_prepares_an_insert_once_for_every_batch_size_and_value(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's prepared statements: SQLite's executemany prepares its statement in C")
    db = driver(session)
    _person(db)
    key = ("person_id", "year", "layer", "bucket")
    for size in range(1, 12):  # psycopg prepares a statement on its 5th run
        db.run_all(inserts("accumulator", _accumulators(size, 10**size), upsert_on=key))
    prepared = Statement.of("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :text")
    assert db.rows(prepared, {"text": "INSERT INTO accumulator %"}) == [(1,)]
    assert db.rows(Statement.of("SELECT max(paid_cum) FROM accumulator"), {}) == [(10 * 10**11,)]


def test_postgresql_refuses_a_value_longer_than_its_column_instead_of_cutting_it(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce a VARCHAR's length")
    db = driver(session)
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        _person(db, "P" * 65)  # person_id is VARCHAR(64)


def test_bytes_dates_and_nulls_arrive_as_they_were(session: Session) -> None:
    db = driver(session)
    _person(db)
    body = bytes(range(256))
    at = datetime(2024, 3, 5, 6, 7, 8, 9, tzinfo=UTC)
    record = {"institution_id": "H1", "key": "K'\"\\1", "request_hash": "h", "status_code": 201, "body": body}
    db.run_all(inserts("idempotencyrecord", [{**record, "created_at": at}]))
    identity = {"person_id": "P1", "category": "dibao", "valid_from": date(2024, 2, 29), "valid_to": None}
    db.run_all(inserts("identity", [{**identity, "source": "民政", "created_at": at, "revoked_at": None}]))
    stored = session.exec(select(IdempotencyRecord)).one()
    assert (stored.key, stored.body, stored.created_at.replace(tzinfo=UTC)) == (record["key"], body, at)
    granted = session.exec(select(Identity)).one()
    assert (granted.valid_from, granted.valid_to, granted.source) == (date(2024, 2, 29), None, "民政")
    assert granted.revoked_at is None


def test_each_rows_bytes_arrive_in_its_own_row(session: Session) -> None:
    db = driver(session)
    at = datetime(2024, 3, 5, tzinfo=UTC)
    bodies = {f"K{n}": bytes([n]) * (n * 997) for n in range(1, 6)}  # distinct sizes, up to ~5 KB
    common = {"institution_id": "H1", "request_hash": "h", "created_at": at}
    records = [
        {**common, "key": key, "status_code": 200 + n, "body": body} for n, (key, body) in enumerate(bodies.items())
    ]
    db.run_all(inserts("idempotencyrecord", records))
    stored = session.exec(select(IdempotencyRecord)).all()
    assert {r.key: (r.body, r.status_code) for r in stored} == {
        key: (body, 200 + n) for n, (key, body) in enumerate(bodies.items())
    }
