"""Database engine and migrations: SQLite (embedded, WAL, serialized writes) or PostgreSQL.

SQLite: every transaction that may write starts with ``BEGIN IMMEDIATE`` (and, within the
service, waits its turn on :func:`write_gate`), so writers are serialized and two settlements
can never read the same accumulators and both spend them; readers (:func:`reader`) use deferred
transactions on the WAL snapshot; ``synchronous=FULL`` so an acknowledged settlement survives a
crash. PostgreSQL: the person row is locked (``SELECT … FOR UPDATE``) for the length of a
settlement (see :mod:`api.store`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


READ_ONLY = "medrelief_read_only"
"""Execution option marking a reader's connection (:func:`reader`)."""


def _sqlite_begin(connection: Any) -> None:
    # A writer takes the write lock at once, before reading what it will change; a reader's
    # deferred transaction reads a consistent snapshot (WAL) and never blocks a writer.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def reader(engine: Engine) -> Engine:
    """The same engine for transactions that only read (on SQLite a deferred ``BEGIN``)."""
    return engine.execution_options(**{READ_ONLY: True})


_gates: dict[str, threading.Lock] = {}
_gates_lock = threading.Lock()


@contextmanager
def write_gate(engine: Engine | Connection) -> Iterator[None]:
    """Serialize this process's SQLite writers on a lock (no busy polling); nothing on PostgreSQL.

    SQLite has one writer at a time anyway; waiting on a Python lock hands the database over the
    moment it is free, where SQLite's own busy handler sleeps and retries (long tail latencies).
    Other processes still meet ``BEGIN IMMEDIATE`` and the busy timeout.
    """
    if not is_sqlite(engine):
        yield
        return
    with _gates_lock:
        gate = _gates.setdefault(str(engine.engine.url), threading.Lock())
    with gate:
        yield


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings this service relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (alembic ``upgrade head``)."""
    command.upgrade(alembic_config(url), "head")
