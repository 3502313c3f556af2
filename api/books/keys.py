"""API keys and institutions in the books: the statements of :mod:`api.auth`."""

from __future__ import annotations

from typing import Any

from api.books.driver import Driver, Statement, Write, inserts
from api.books.writing import now

_KEY = Statement.of(
    "SELECT k.secret_hash, k.revoked_at, k.scopes, i.id, i.kind FROM apikey k "
    "JOIN institution i ON i.id = k.institution_id WHERE k.prefix = :p"
)
_INSTITUTION = Statement.of("SELECT id, name, kind FROM institution WHERE id = :i")
_ANY = Statement.of("SELECT id FROM institution LIMIT 1")
_REVOKE = Statement.of("UPDATE apikey SET revoked_at = :at WHERE prefix = :p AND revoked_at IS NULL")
_KEYS = Statement.of(
    "SELECT k.prefix, k.institution_id, i.kind, i.name, k.created_at, k.revoked_at FROM apikey k "
    "JOIN institution i ON i.id = k.institution_id ORDER BY k.institution_id, k.created_at"
)


def key(db: Driver, *, prefix: str) -> tuple[str, Any, str, str, str] | None:
    """A key by prefix: (secret hash, revoked_at, scopes, institution id, institution kind)."""
    rows = db.rows(_KEY, {"p": prefix})
    if not rows:
        return None
    secret, revoked, scopes, institution_id, kind = rows[0]
    return str(secret), revoked, str(scopes), str(institution_id), str(kind)


def institution(db: Driver, *, institution_id: str) -> tuple[str, str, str] | None:
    """(id, name, kind) of an institution."""
    rows = db.rows(_INSTITUTION, {"i": institution_id})
    return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None


def institution_writes(*, institution_id: str, name: str, kind: str) -> list[Write]:
    return inserts("institution", [{"id": institution_id, "name": name, "kind": kind, "created_at": now()}])


def key_writes(*, prefix: str, secret_hash: str, institution_id: str, scopes: str) -> list[Write]:
    values = {"prefix": prefix, "secret_hash": secret_hash, "institution_id": institution_id, "scopes": scopes,
              "created_at": now(), "revoked_at": None}  # fmt: skip
    return inserts("apikey", [values])


def revoke(db: Driver, *, prefix: str) -> bool:
    """Revoke an active key; whether there was one."""
    return db.run(_REVOKE, {"p": prefix, "at": now()}) > 0


def keys(db: Driver) -> list[dict[str, Any]]:
    """Every key (never its secret): prefix, institution, kind, name, created, revoked."""
    names = ("prefix", "institution_id", "kind", "name", "created_at", "revoked_at")
    return [dict(zip(names, row, strict=True)) for row in db.rows(_KEYS, {})]


def any_institution(db: Driver) -> bool:
    return bool(db.rows(_ANY, {}))
