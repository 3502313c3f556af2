"""API keys per institution, with scopes; stored hashed (SHA-256 of a 192-bit random secret).

A key reads ``mr_<prefix>_<secret>``: the prefix finds the row, the secret is compared in
constant time with its stored hash; a verified key is trusted for :data:`CACHE_SECONDS`. Keys
are shown once, at creation. Scopes by institution kind: a hospital settles, reverses and reads
its own settlements; an insurer reads everything (and the early warnings, ID numbers masked); an
actuary reads policies; a civil-affairs office (民政) reads the early warnings with ID numbers; an
admin does everything, including persons, identities and keys.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import traceback
from dataclasses import dataclass
from datetime import date

from api.books import keys
from api.books.driver import Driver
from api.errors import Problem

KINDS = ("hospital", "insurer", "actuary", "admin", "civil_affairs")
SCOPES = {
    "hospital": ("settle", "read:own", "policies"),
    "insurer": ("read:all", "policies", "warnings"),
    "actuary": ("policies",),
    "admin": ("settle", "read:all", "policies", "persons", "admin", "warnings", "id_numbers", "cases"),
    "civil_affairs": ("policies", "warnings", "id_numbers", "cases"),
}


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the key's institution, its kind and scopes, and what the registry of
    institutions says of it (its hospital tier and the dates it is a 定点 institution)."""

    institution_id: str
    kind: str
    scopes: frozenset[str]
    hospital_tier: str | None = None
    active_from: date | None = None
    active_to: date | None = None

    def active_on(self, day: date) -> bool:
        """Whether the institution is a 定点 institution on ``day``."""
        started = self.active_from is None or self.active_from <= day
        return started and (self.active_to is None or day <= self.active_to)

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Problem(403, "forbidden", f"this key lacks the scope {scope!r}")

    def may_read(self, institution_id: str) -> bool:
        return "read:all" in self.scopes or ("read:own" in self.scopes and institution_id == self.institution_id)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Driver, institution_id: str, kind: str, name: str = "") -> str:
    """Create (or reuse) the institution and a new key for it; committed. Returns the key, shown once."""
    if kind not in KINDS:
        raise ValueError(f"unknown institution kind {kind!r}; expected one of {KINDS}")
    known = keys.institution(db, institution_id=institution_id)
    writes = []
    if known is None:
        writes += keys.institution_writes(institution_id=institution_id, name=name or institution_id, kind=kind)
    elif known[2] != kind:
        raise ValueError(f"institution {institution_id} is a {known[2]}, not a {kind}")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
    writes += keys.key_writes(prefix=prefix, secret_hash=_hash(secret), institution_id=institution_id,
                              scopes=" ".join(SCOPES[kind]))  # fmt: skip
    db.commit(writes)
    return f"mr_{prefix}_{secret}"


DEMO = (("DEMO-HOSPITAL", "hospital", "示范医院"), ("DEMO-ADMIN", "admin", "示范医保局"))


def demo_keys(url: str) -> dict[str, str]:
    """A demo hospital key and a demo admin key — only on a database with no institution yet
    (``medrelief serve --demo-keys``; ``medrelief demo`` uses its own throwaway database)."""
    from api.db import open_database, pooled_transaction

    database = open_database(url)
    with pooled_transaction(database) as db:
        if keys.any_institution(db):
            raise ValueError("--demo-keys: the database already has institutions; demo keys only on an empty one")
        return {kind: create_key(db, code, kind, name) for code, kind, name in DEMO}


def revoke_key(db: Driver, prefix: str) -> bool:
    """Revoke a key (committed); False if there is no active key with that prefix."""
    done = keys.revoke(db, prefix=prefix)
    db.commit()
    return done


CACHE_SECONDS = 1.0
"""How long a verified key is trusted without asking the database again: a revoked key stops
working within this many seconds in every worker."""
_verified: dict[str, tuple[Caller, float]] = {}


def recently_verified(presented: str | None) -> Caller | None:
    """The caller of a key verified less than :data:`CACHE_SECONDS` ago, without the database."""
    cached = _verified.get(_hash(presented or ""))
    return cached[0] if cached is not None and cached[1] > time.monotonic() else None


def authenticate(db: Driver, presented: str | None) -> Caller:
    """The caller a presented key belongs to; 401 for a missing, malformed, unknown or revoked key."""
    caller = recently_verified(presented)
    if caller is None:
        caller = _verify(db, presented)
        _verified[_hash(presented or "")] = (caller, time.monotonic() + CACHE_SECONDS)
    return caller


def _verify(db: Driver, presented: str | None) -> Caller:
    if not presented:
        raise Problem(401, "unauthorized", "an API key is required (Authorization: Bearer … or X-API-Key)")
    parts = presented.split("_")
    if len(parts) < 3 or parts[0] != "mr":
        raise Problem(401, "unauthorized", "malformed API key")
    prefix, secret = parts[1], "_".join(parts[2:])
    row = keys.key(db, prefix=prefix) if len(prefix) <= 32 and prefix.isascii() else None
    if row is None or row[1] is not None or not hmac.compare_digest(str(row[0]), _hash(secret)):
        raise Problem(401, "unauthorized", "unknown or revoked API key")
    _, _, scopes, institution_id, kind, tier, active_from, active_to = row
    return Caller(str(institution_id), str(kind), frozenset(str(scopes).split()), tier and str(tier),
                  keys.day(active_from), keys.day(active_to))  # fmt: skip


ID_NUMBER = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
"""A 身份证号 in free text: 18 characters (the last may be X) or the older 15 digits."""


def redacted(text: str) -> str:
    """``text`` with every ID number in it masked, as :func:`mask_id_number` shows one.

    >>> redacted("person 110101199001011234 (old 110101900101123)")
    'person 110101********1234 (old 110101*****1123)'
    """
    return ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)


class RedactIdNumbers(logging.Filter):
    """A log filter: ID numbers in the message and the traceback are masked before any handler
    writes them (a driver's error may quote the row it refused)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redacted(record.getMessage()), ()
        if record.exc_info:
            record.exc_text = redacted("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        return True


def mask_id_number(id_number: str) -> str:
    """身份证号 masked for display: first 6 and last 4 kept (``110101********1234``)."""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]
