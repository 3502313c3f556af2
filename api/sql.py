"""The settlement hot path's statements, run on the driver connection (a session's or a bare one).

Through SQLAlchemy a statement costs ~30 µs (Core) to ~60 µs (ORM session) on SQLite before the
database does any work, and a settlement runs a dozen; on the driver's cursor it costs ~2 µs.
The statements are written once, with ``:name`` placeholders (SQLite's style; rewritten to
``%(name)s`` for psycopg). Under a session they run in the session's own transaction (the same
connection, ``BEGIN IMMEDIATE`` / row locks, committed or rolled back by the session); the
settlement route skips the session altogether (its ~0.1 ms per request) and runs them on a
pooled connection's transaction (:func:`api.db.pooled_transaction`).

Values are stored exactly as SQLAlchemy stores them, so ORM reads see the same rows: on SQLite
dates as ``YYYY-MM-DD`` and datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` text; PostgreSQL gets
the Python objects (psycopg adapts them, as it does under SQLAlchemy).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session, SQLModel

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Statement:
    """One SQL statement in each dialect's placeholder style."""

    sqlite: str
    postgresql: str

    @classmethod
    def of(cls, sql: str) -> Statement:
        if "%" in sql:
            raise ValueError("write % as a bound value: psycopg would read it as a placeholder")
        return cls(sql, re.sub(r"(?<!:):([A-Za-z_]\w*)", r"%(\1)s", sql))


Write = tuple[Statement, Params]
Read = tuple[Statement, Params]


@lru_cache(maxsize=256)
def insert(table: str, columns: tuple[str, ...], rows: int = 1, upsert_on: tuple[str, ...] = ()) -> Statement:
    """``INSERT INTO table (columns) VALUES (…), …`` for ``rows`` rows (placeholders ``:column_i``);
    with ``upsert_on`` (a unique key) rows already there are updated instead. Only the models'
    tables and columns are accepted."""
    known = SQLModel.metadata.tables.get(table)
    if known is None or not set(columns) | set(upsert_on) <= set(known.c.keys()):
        raise ValueError(f"no table {table} with columns {columns + upsert_on}")
    names = ", ".join(columns)
    values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in columns) + ")" for i in range(rows))
    sql = f"INSERT INTO {table} ({names}) VALUES {values}"  # noqa: S608  (names checked above)
    if upsert_on:
        updated = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in upsert_on)
        sql += f" ON CONFLICT ({', '.join(upsert_on)}) DO UPDATE SET {updated}"
    return Statement.of(sql)


INSERT_PARAMS = 50
"""Bound values per multi-row INSERT: psycopg caches the conversion of statements with at most
50 parameters (above that it re-parses the text on every call); far below SQLite's bound."""


def inserts(table: str, rows: Sequence[Params], upsert_on: tuple[str, ...] = ()) -> list[Write]:
    """Rows with the same keys into ``table`` as multi-row INSERT statements."""
    if not rows:
        return []
    columns = tuple(rows[0])
    per_statement = max(1, INSERT_PARAMS // len(columns))
    out: list[Write] = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = {f"{c}_{i}": row[c] for i, row in enumerate(chunk) for c in columns}
        out.append((insert(table, columns, len(chunk), upsert_on), params))
    return out


def _sqlite_datetime(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S.%f}"


# sqlite3 adapts bound dates and datetimes in C with these (SQLAlchemy hands it strings already,
# so its statements are unaffected); Python 3.12 deprecates sqlite3's own default adapters.
sqlite3.register_adapter(datetime, _sqlite_datetime)
sqlite3.register_adapter(date, date.isoformat)


class Driver:
    """The DBAPI connection of a transaction: a session's (:meth:`of_session`), or one taken from
    the pool without the ORM (:func:`api.db.pooled_transaction`, the settlement hot path).

    On PostgreSQL :meth:`read_all` and :meth:`run_all` send their statements in one pipeline
    (one network round trip, executed in order); on SQLite they simply run in order.
    """

    def __init__(self, connection: Any, *, postgresql: bool) -> None:
        self.postgresql = postgresql
        self._connection = connection

    @classmethod
    def of_session(cls, session: Session) -> Driver:
        session.flush()  # pending ORM changes first: the statements below must see them
        connection = session.connection()
        return cls(connection.connection.driver_connection, postgresql=connection.dialect.name == "postgresql")

    def commit(self, writes: Sequence[Write] = ()) -> None:
        """Run ``writes``, then commit: on PostgreSQL one round trip (COMMIT in their pipeline)."""
        with self._pipeline(len(writes) + 1):
            self._execute(writes)
            self._connection.commit()

    def rollback(self) -> None:
        self._connection.rollback()

    def _text(self, statement: Statement) -> str:
        return statement.postgresql if self.postgresql else statement.sqlite

    def rows(self, statement: Statement, params: Params) -> list[tuple[Any, ...]]:
        return self.read_all([(statement, params)])[0]

    def read_all(self, reads: Sequence[Read]) -> list[list[tuple[Any, ...]]]:
        """The rows of each read, in order."""
        cursors = []
        with self._pipeline(len(reads)):
            for statement, params in reads:
                cursor = self._connection.cursor()
                cursor.execute(self._text(statement), params)
                cursors.append(cursor)
        return [list(cursor.fetchall()) for cursor in cursors]

    def run_all(self, writes: Sequence[Write]) -> None:
        """Each statement, in order."""
        with self._pipeline(len(writes)):
            self._execute(writes)

    def _execute(self, writes: Sequence[Write]) -> None:
        cursor = self._connection.cursor()
        for statement, params in writes:
            cursor.execute(self._text(statement), params)

    def _pipeline(self, statements: int) -> AbstractContextManager[Any]:
        return self._connection.pipeline() if self.postgresql and statements > 1 else nullcontext()


Unit = Session | Driver
"""Where a flow's statements run: an ORM session's transaction, or a bare pooled one."""


def driver(unit: Unit) -> Driver:
    return unit if isinstance(unit, Driver) else Driver.of_session(unit)


def commit(unit: Unit, writes: Sequence[Write]) -> None:
    """Run ``writes`` and commit the unit's transaction (a session commits through the ORM)."""
    if isinstance(unit, Driver):
        unit.commit(writes)
        return
    driver(unit).run_all(writes)
    unit.commit()
