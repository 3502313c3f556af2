"""What the service's commands share: the policy, the books of ``DATABASE_URL`` and dates as
options, each failing with one line naming the setting or option (no traceback). Imports are
inside the functions: the batch commands start without SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from settlement.terminal import fail

if TYPE_CHECKING:
    from datetime import date

    from api.books.driver import Driver
    from tiers.tables import CompiledPolicy


def shown(url: str) -> str:
    """``url`` as printed: its password masked (what ``serve`` prints ends up in logs)."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def policy() -> CompiledPolicy:
    """The service's policy, or a one-line error naming ``MEDRELIEF_POLICY``."""
    from api.config import service_policy
    from tiers.loader import PolicyError

    try:
        return service_policy()
    except PolicyError as exc:
        raise fail(f"MEDRELIEF_POLICY: {exc}") from exc


def database(*, migrated: bool) -> str:
    """``DATABASE_URL``, migrated (or, for a read-only command, checked to hold books), or a
    one-line error naming the setting and what is wrong — before anything is created."""
    from api.config import settings
    from api.db import DatabaseSettingError, NoBooks, migrate, require_books

    url = settings().database_url
    try:
        migrate(url) if migrated else require_books(url)
    except (NoBooks, DatabaseSettingError) as exc:
        raise fail(f"DATABASE_URL: {exc}") from exc
    return url


@contextmanager
def books(*, migrated: bool = True) -> Iterator[Driver]:
    """A transaction on ``DATABASE_URL``'s books (migrated first, or refused when ``migrated`` is
    False and the database holds no books: read-only commands never create one)."""
    from api.db import open_database, pooled_transaction

    with pooled_transaction(open_database(database(migrated=migrated))) as db:
        yield db


def day(option: str, text: str | None) -> date | None:
    from datetime import date

    try:
        return None if text is None else date.fromisoformat(text)
    except ValueError as exc:
        raise fail(f"{option}: {text!r} is not a date YYYY-MM-DD") from exc
