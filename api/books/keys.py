"""API keys and institutions in the books: the statements of :mod:`api.auth` and of the registry
of institutions (定点医药机构: code, name, kind, hospital tier, region, active dates)."""

from __future__ import annotations

from datetime import date
from typing import Any

from api.books.driver import Driver, Statement, Write, inserts
from api.books.writing import now

_KEY = Statement.of(
    "SELECT k.secret_hash, k.revoked_at, k.scopes, i.id, i.kind, i.hospital_tier, i.active_from, i.active_to "
    "FROM apikey k "
    "JOIN institution i ON i.id = k.institution_id WHERE k.prefix = :p"
)
_INSTITUTION = Statement.of("SELECT id, name, kind FROM institution WHERE id = :i")
INSTITUTION_FIELDS = ("id", "name", "kind", "hospital_tier", "admdvs", "active_from", "active_to")
_INSTITUTIONS = Statement.of(
    "SELECT id, name, kind, hospital_tier, admdvs, active_from, active_to FROM institution ORDER BY id"
)
_REGISTER = Statement.of(
    "UPDATE institution SET name = :name, kind = :kind, hospital_tier = :tier, admdvs = :admdvs, "
    "active_from = :from, active_to = NULL WHERE id = :i"
)
_DEACTIVATE = Statement.of("UPDATE institution SET active_to = :on WHERE id = :i")
_ANY = Statement.of("SELECT id FROM institution LIMIT 1")
_REVOKE = Statement.of("UPDATE apikey SET revoked_at = :at WHERE prefix = :p AND revoked_at IS NULL")
_KEYS = Statement.of(
    "SELECT k.prefix, k.institution_id, i.kind, i.name, k.created_at, k.revoked_at FROM apikey k "
    "JOIN institution i ON i.id = k.institution_id ORDER BY k.institution_id, k.created_at"
)


def key(db: Driver, *, prefix: str) -> tuple[Any, ...] | None:
    """A key by prefix: (secret hash, revoked_at, scopes, institution id, institution kind,
    hospital tier, active from, active to)."""
    rows = db.rows(_KEY, {"p": prefix})
    return tuple(rows[0]) if rows else None


def institution(db: Driver, *, institution_id: str) -> tuple[str, str, str] | None:
    """(id, name, kind) of an institution."""
    rows = db.rows(_INSTITUTION, {"i": institution_id})
    return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None


def institution_writes(*, institution_id: str, name: str, kind: str) -> list[Write]:
    return inserts("institution", [{"id": institution_id, "name": name, "kind": kind, "created_at": now()}])


def day(value: Any) -> date | None:
    """A date column as a date (SQLite returns ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def institutions(db: Driver) -> list[dict[str, Any]]:
    """Every institution: :data:`INSTITUTION_FIELDS`."""
    rows = [dict(zip(INSTITUTION_FIELDS, row, strict=True)) for row in db.rows(_INSTITUTIONS, {})]
    return [{**r, "active_from": day(r["active_from"]), "active_to": day(r["active_to"])} for r in rows]


def registration_writes(
    *, known: bool, institution_id: str, name: str, kind: str, tier: str | None, admdvs: str, active_from: date | None
) -> list[Write]:
    """An institution registered, or (``known``) its registration replaced: active again from
    ``active_from`` until deactivated; its keys and books are kept."""
    values = {"i": institution_id, "name": name, "kind": kind, "tier": tier, "admdvs": admdvs, "from": active_from}
    if known:
        return [(_REGISTER, values)]
    return inserts("institution", [{"id": institution_id, "name": name, "kind": kind, "hospital_tier": tier,
                                    "admdvs": admdvs, "active_from": active_from, "created_at": now()}])  # fmt: skip


def deactivate(db: Driver, *, institution_id: str, on: date) -> bool:
    """The institution is a 定点 institution until ``on`` (inclusive); whether it exists."""
    return db.run(_DEACTIVATE, {"i": institution_id, "on": on}) > 0


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
