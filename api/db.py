"""The database (a SQLAlchemy engine: connection pools) and migrations: SQLite (embedded, WAL,
serialized writes) or PostgreSQL.

SQLite: every transaction that may write starts with ``BEGIN IMMEDIATE`` (and, within the
service, waits its turn on :func:`write_gate`), so writers are serialized and two settlements
can never read the same accumulators and both spend them; readers (:func:`reader`) use deferred
transactions on the WAL snapshot; ``synchronous=FULL`` so an acknowledged settlement survives a
crash. PostgreSQL: the person row is locked (``SELECT … FOR UPDATE``) for the length of a
settlement (see :mod:`api.store`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError

from api.books.driver import Driver

MIGRATIONS = Path(__file__).parent / "migrations"
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)
"""A unique or foreign key refused a row (a concurrent request did the same first), from the driver."""


def is_unique_violation(error: BaseException) -> bool:
    """A unique index refused a row: another transaction stored the same thing first."""
    if isinstance(error, psycopg.errors.UniqueViolation):
        return True
    return isinstance(error, sqlite3.IntegrityError) and str(error).startswith("UNIQUE constraint failed")


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write transaction."""
READ_ONLY = "medrelief_read_only"
"""Execution option marking a reader's connection (:func:`reader`)."""


def _sqlite_begin(connection: Any) -> None:
    # A writer takes the write lock at once, before reading what it will change; a reader's
    # deferred transaction reads a consistent snapshot (WAL) and never blocks a writer. Sent on
    # the driver connection: SQLAlchemy's execution path costs more than the BEGIN itself, on every
    # request (a failure is sqlite3's OperationalError, one of DATABASE_ERRORS).
    _begin(connection.connection.driver_connection, read_only=connection.get_execution_options().get(READ_ONLY, False))


def _begin(driver: Any, *, read_only: bool, wait: bool = True) -> None:
    """A reader's deferred ``BEGIN``, or a writer's ``BEGIN IMMEDIATE`` (SQLite)."""
    if read_only:
        driver.execute("BEGIN")
    else:
        _begin_immediate(driver, wait=wait)


def _begin_immediate(driver: Any, *, wait: bool) -> None:
    """``BEGIN IMMEDIATE``; without ``wait`` it fails at once if another process holds the lock."""
    if wait:
        driver.execute("BEGIN IMMEDIATE")
        return
    driver.execute("PRAGMA busy_timeout=0")
    try:
        driver.execute("BEGIN IMMEDIATE")
    finally:
        driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


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
    with _gate(engine):
        yield


def _gate(engine: Engine | Connection) -> threading.Lock:
    with _gates_lock:
        return _gates.setdefault(str(engine.engine.url), threading.Lock())


@contextmanager
def pooled_transaction(engine: Engine, *, wait: bool = True, read_only: bool = False) -> Iterator[Driver]:
    """A write transaction on a connection from the pool, without the ORM; what is not committed
    is rolled back when the connection goes back to the pool.

    SQLite: ``BEGIN IMMEDIATE`` first (without ``wait``, ``sqlite3.OperationalError`` at once if
    another process writes), or with ``read_only`` a deferred ``BEGIN`` (a snapshot of the WAL:
    never waits for a writer, as :func:`reader`'s); PostgreSQL: the first statement begins it.
    A connection the server dropped is invalidated, not pooled again.
    """
    pooled, sqlite = engine.raw_connection(), is_sqlite(engine)
    connection = pooled.driver_connection
    try:
        if sqlite:
            _begin(connection, read_only=read_only, wait=wait)
        yield Driver(connection, postgresql=not sqlite)
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, connection, None):
            pooled.invalidate()
        raise
    finally:
        pooled.close()


@contextmanager
def immediate_writer(engine: Engine) -> Iterator[Driver | None]:
    """A SQLite write transaction begun at once on this thread, or ``None`` if that would wait.

    ``None`` on PostgreSQL, when this process's write gate is taken, or when another process
    holds SQLite's write lock.
    """
    if not is_sqlite(engine):
        yield None
        return
    gate = _gate(engine)
    if not gate.acquire(blocking=False):
        yield None
        return
    try:
        with ExitStack() as stack:
            try:
                db = stack.enter_context(pooled_transaction(engine, wait=False))
            except sqlite3.OperationalError:  # another process holds the write lock
                db = None
            yield db
    finally:
        gate.release()


def open_database(url: str) -> Engine:
    """The database at ``url`` (its pool) with the settings this service relies on."""
    if url.startswith("sqlite"):
        # LIFO: the connection used last is used next, its page cache still valid. SQLite drops a
        # connection's cache when another connection has written since; with the default FIFO
        # pool each settlement came on another of the pool's connections and re-read the pages
        # the previous one had written (``benchmarks/README.md``).
        connect_args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=connect_args, pool_use_lifo=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_size=20, max_overflow=20, pool_recycle=3600, connect_args={"options": TIMEOUTS})
    return _pinged(engine)


LOCK_TIMEOUT_MS = 2_000
"""PostgreSQL: the longest a transaction waits for a row lock (a person another request is
settling): past it the request is answered 503 ``database_busy`` (nothing was changed), and the
worker's other requests, which wait behind it on its event loop, go on."""
STATEMENT_TIMEOUT_MS = 30_000
"""PostgreSQL: the longest one statement may run."""
TIMEOUTS = f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS}"


def batch_database(url: str, engine: Engine) -> Engine:
    """The pool of the settlement batches (:mod:`api.queue`) and of pre-settlements (the same
    reading): on PostgreSQL a small pool of its own (a worker settles one batch at a time and
    reads for one pre-settlement at a time, on its event loop) whose statements are planned once
    per connection (``plan_cache_mode=force_generic_plan``). The batch reading is the same
    statement for any number of claims; left to itself PostgreSQL plans it anew on every run,
    because a generic plan's estimate for arrays of unknown length looks costlier, and planning
    costs more than running it (``benchmarks/README.md``). Its lateral lookups make the generic
    plan the right one whatever the values. On SQLite: ``engine`` itself (nothing to plan; one
    write lock anyway)."""
    if is_sqlite(engine):
        return engine
    options = {"options": f"-c plan_cache_mode=force_generic_plan {TIMEOUTS}"}
    return _pinged(create_engine(url, pool_size=2, max_overflow=4, pool_recycle=3600, connect_args=options))


def _pinged(engine: Engine) -> Engine:
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


IDLE_PING_SECONDS = 5.0
"""A pooled PostgreSQL connection idle this long is pinged before use (not every checkout: that
is a round trip per request). A connection dropped while busy fails one request with 503
``database_unavailable`` (retry with the same Idempotency-Key) and is replaced."""


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get("idle_since", time.monotonic()) < IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as error:  # the server went away while the connection sat in the pool
        raise DisconnectionError(str(error)) from error


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class NoBooks(RuntimeError):
    """The database holds no books (a read-only command is never the one to create them)."""


class DatabaseSettingError(RuntimeError):
    """``DATABASE_URL`` names no database this service can use; the message says why, in a line."""


def _reason(error: BaseException) -> str:
    """What went wrong with a database, in one line (the driver's own first line)."""
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


@contextmanager
def setting_errors(url: str) -> Iterator[None]:
    """Turn what a wrong ``DATABASE_URL`` raises into a :class:`DatabaseSettingError`."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    shown = url.split("@")[-1] if "@" in url else url
    try:
        yield
    except NoSuchModuleError as exc:
        expected = "sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/DB"
        raise DatabaseSettingError(f"{shown}: unknown kind of database ({_reason(exc)}); expected {expected}") from exc
    except ArgumentError as exc:
        raise DatabaseSettingError(f"{url!r} is not a database URL ({_reason(exc)})") from exc
    except (SQLAlchemyError, sqlite3.Error, psycopg.Error, OSError) as exc:
        raise DatabaseSettingError(f"{shown}: {_reason(exc)}") from exc


def require_books(url: str) -> None:
    """Refuse a database without the service's schema: a SQLite file that does not exist, or a
    database never migrated."""
    from sqlalchemy import inspect

    with setting_errors(url):
        if url.startswith("sqlite"):
            path = make_url(url).database
            if not path or path == ":memory:" or not Path(path).exists():
                raise NoBooks(f"no database at {url}: run `medrelief db upgrade` (or serve) first")
        database = create_engine(url)
        try:
            if "alembic_version" not in inspect(database).get_table_names():
                shown = make_url(url).render_as_string(hide_password=True)
                raise NoBooks(f"the database at {shown} has no books yet: run `medrelief db upgrade` first")
        finally:
            database.dispose()


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (alembic ``upgrade head``); a database
    that cannot be reached, written or understood is a :class:`DatabaseSettingError`."""
    with setting_errors(url):
        command.upgrade(alembic_config(url), "head")
