"""The books' statements, run on the DBAPI connection of a pooled transaction.

Every statement of the books is written once, with ``:name`` placeholders (SQLite's style;
rewritten to ``%(name)s`` for psycopg), and runs on the driver's cursor of a transaction taken
from the pool (:func:`api.db.pooled_transaction`) — no ORM session in between, a few µs per
statement where SQLAlchemy's execution path costs tens (see ``benchmarks/README.md``).

Values are stored exactly as SQLAlchemy stores them, so ORM reads see the same rows: on SQLite
dates as ``YYYY-MM-DD`` and datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` text; PostgreSQL gets
the Python objects for the statements (psycopg adapts them, as it does under SQLAlchemy) and
their text in JSON for the inserts, read by each column type's own input (:func:`_json_rows`),
bytes apart in binary.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlmodel import SQLModel

from api import models  # noqa: F401  (the tables the statements are checked against)

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


Read = tuple[Statement, Params]


@dataclass(frozen=True)
class Rows:
    """Rows with the same columns into one table, in one go: SQLite's ``executemany`` (a loop in
    C over one prepared statement), PostgreSQL's ``INSERT … SELECT`` from one JSON parameter
    (see :func:`insert_sql`). With ``upsert_on`` (a unique key) rows already there are updated
    instead (or, without ``update``, left as they are)."""

    table: str
    columns: tuple[str, ...]
    values: list[tuple[Any, ...]]
    upsert_on: tuple[str, ...] = ()
    update: bool = True


Write = tuple[Statement, Params] | Rows


def inserts(table: str, rows: Sequence[Params], upsert_on: tuple[str, ...] = (), *, update: bool = True) -> list[Write]:
    """Rows with the same keys into ``table`` (only the models' tables and columns are accepted)."""
    if not rows:
        return []
    columns = tuple(rows[0])
    _check(table, columns + upsert_on)
    return [Rows(table, columns, [tuple(row[c] for c in columns) for row in rows], upsert_on, update)]


@lru_cache(maxsize=512)
def _check(table: str, columns: tuple[str, ...]) -> None:
    known = SQLModel.metadata.tables.get(table)
    if known is None or not set(columns) <= set(known.c.keys()):
        raise ValueError(f"no table {table} with columns {columns}")


def merged(writes: Sequence[Write]) -> list[Write]:
    """``writes`` with all rows for one table (and columns) gathered into one :class:`Rows` at
    the place of the first: a batch's rows, one statement per table. Only for rows whose order
    within their table does not matter (a batch's rows are of distinct persons and claims)."""
    out: list[Write] = []
    values: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool], list[tuple[Any, ...]]] = {}
    for write in writes:
        if not isinstance(write, Rows):
            out.append(write)
            continue
        key = (write.table, write.columns, write.upsert_on, write.update)
        if key not in values:
            values[key] = []
            out.append(Rows(write.table, write.columns, values[key], write.upsert_on, write.update))
        values[key].extend(write.values)
    return out


@lru_cache(maxsize=512)
def insert_sql(
    table: str, columns: tuple[str, ...], upsert_on: tuple[str, ...] = (), update: bool = True, postgresql: bool = False
) -> str:
    """``INSERT INTO table (columns) …`` (names checked against the models): SQLite's one row of
    ``?`` for executemany; PostgreSQL's rows from one ``jsonb`` parameter, an array of rows (see
    :func:`_json_rows`), each value cast to its column's type. The PostgreSQL text and parameter
    type are the same whatever the batch, so psycopg prepares the statement once per connection
    (a multi-row ``VALUES`` of ``$n`` differed with each batch's size and its integers' types:
    PostgreSQL parsed and planned it anew every time, and psycopg adapted every value in Python).
    A ``bytea`` column's values come apart, as an array parameter of their own sent in binary
    (``%b``, the row's ordinality its index), not as hex inside the JSON (written in Python, read
    by PostgreSQL as JSON and again as hex; and psycopg's text form of a ``bytea[]`` escapes every
    value with a regular expression): ``benchmarks/README.md``."""
    _check(table, columns + upsert_on)
    if postgresql:
        types, binary = _pg_types(table), _binary(table, columns)
        values = ", ".join(
            "(%b::bytea[])[n]" if i in binary else f"(r->>{i})::{types[c]}" for i, c in enumerate(columns)
        )
        each = "WITH ORDINALITY AS j(r, n)" if binary else "AS r"
        rows = f"SELECT {values} FROM jsonb_array_elements(%s::jsonb) {each}"  # noqa: S608  (names checked above)
    else:
        rows = "VALUES (" + ", ".join("?" * len(columns)) + ")"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) {rows}"
    if upsert_on:
        updated = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in upsert_on)
        action = f"DO UPDATE SET {updated}" if update else "DO NOTHING"
        sql += f" ON CONFLICT ({', '.join(upsert_on)}) {action}"
    return sql


@lru_cache(maxsize=64)
def _pg_types(table: str) -> dict[str, str]:
    """Each column's PostgreSQL type without its length (``VARCHAR``, ``BIGINT``, …): a cast to
    ``VARCHAR(40)`` would cut a longer value short, the column itself refuses it."""
    dialect = PGDialect()  # type: ignore[no-untyped-call]
    columns = SQLModel.metadata.tables[table].c
    return {c.name: re.sub(r"\(.*\)", "", c.type.compile(dialect=dialect)) for c in columns}


@lru_cache(maxsize=512)
def _binary(table: str, columns: tuple[str, ...]) -> tuple[int, ...]:
    """The positions of ``columns`` holding ``bytea`` (sent apart from the JSON on PostgreSQL)."""
    types = _pg_types(table)
    return tuple(i for i, c in enumerate(columns) if types[c] == "BYTEA")


def _pg_params(table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> list[Any]:
    """The parameters of :func:`insert_sql`'s PostgreSQL statement, in the order it names them:
    each ``bytea`` column's values as one list (sent in binary), then the rows as JSON (their bytes
    left out)."""
    binary = _binary(table, columns)
    if not binary:
        return [_json_rows(values)]
    text = [tuple(None if i in binary else v for i, v in enumerate(row)) for row in values]
    return [*([row[i] for row in values] for i in binary), _json_rows(text)]


def _json_rows(values: list[tuple[Any, ...]]) -> str:
    """Rows as one JSON array of arrays (serialized in C): dates and datetimes in ISO 8601
    (with the offset: a ``timestamptz`` reads the same instant psycopg would have sent); bytes
    are sent apart (:func:`_pg_params`)."""
    return json.dumps(values, default=_json_value, separators=(",", ":"))


def _json_value(value: Any) -> str:
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    raise TypeError(f"no JSON for {type(value).__name__} {value!r}")


def _sqlite_datetime(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S.%f}"


# sqlite3 adapts bound dates and datetimes in C with these (SQLAlchemy hands it strings already,
# so its statements are unaffected); Python 3.12 deprecates sqlite3's own default adapters.
sqlite3.register_adapter(datetime, _sqlite_datetime)
sqlite3.register_adapter(date, date.isoformat)


class Driver:
    """The DBAPI connection of a transaction taken from the pool (:func:`api.db.pooled_transaction`).

    On PostgreSQL :meth:`read_all` and :meth:`run_all` send their statements in one pipeline
    (one network round trip, executed in order); on SQLite they simply run in order.
    """

    def __init__(self, connection: Any, *, postgresql: bool) -> None:
        self.postgresql = postgresql
        self._connection = connection

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

    def run(self, statement: Statement, params: Params) -> int:
        """One statement; the number of rows it changed."""
        cursor = self._connection.cursor()
        cursor.execute(self._text(statement), params)
        return int(cursor.rowcount)

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
        for write in writes:
            if isinstance(write, Rows):
                self._insert(write)
            else:
                cursor.execute(self._text(write[0]), write[1])

    def _insert(self, rows: Rows) -> None:
        key = (rows.table, rows.columns, rows.upsert_on, rows.update)
        if not self.postgresql:
            self._connection.executemany(insert_sql(*key), rows.values)
            return
        params = _pg_params(rows.table, rows.columns, rows.values)
        self._connection.cursor().execute(insert_sql(*key, postgresql=True), params)

    def _pipeline(self, statements: int) -> AbstractContextManager[Any]:
        return self._connection.pipeline() if self.postgresql and statements > 1 else nullcontext()
