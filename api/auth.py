"""API keys per institution, with scopes; stored hashed (SHA-256 of a 192-bit random secret).

A key reads ``mr_<prefix>_<secret>``: the prefix finds the row, the secret is compared in
constant time with its stored hash; a verified key is trusted for :data:`CACHE_SECONDS`. Keys
are shown once, at creation. Scopes by institution kind: a hospital settles, reverses and reads
its own settlements; an insurer reads everything; an actuary reads policies; an admin does
everything, including persons, identities and keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from api.errors import Problem
from api.models import ApiKey, Institution

KINDS = ("hospital", "insurer", "actuary", "admin")
SCOPES = {
    "hospital": ("settle", "read:own", "policies"),
    "insurer": ("read:all", "policies"),
    "actuary": ("policies",),
    "admin": ("settle", "read:all", "policies", "persons", "admin"),
}


@dataclass(frozen=True)
class Caller:
    institution_id: str
    kind: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Problem(403, "forbidden", f"this key lacks the scope {scope!r}")

    def may_read(self, institution_id: str) -> bool:
        return "read:all" in self.scopes or ("read:own" in self.scopes and institution_id == self.institution_id)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, institution_id: str, kind: str, name: str = "") -> str:
    """Create (or reuse) the institution and a new key for it; returns the key, shown once."""
    if kind not in KINDS:
        raise ValueError(f"unknown institution kind {kind!r}; expected one of {KINDS}")
    institution = session.get(Institution, institution_id)
    if institution is None:
        session.add(Institution(id=institution_id, name=name or institution_id, kind=kind))
        session.flush()
    elif institution.kind != kind:
        raise ValueError(f"institution {institution_id} is a {institution.kind}, not a {kind}")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
    session.add(
        ApiKey(prefix=prefix, secret_hash=_hash(secret), institution_id=institution_id, scopes=" ".join(SCOPES[kind]))
    )
    session.commit()
    return f"mr_{prefix}_{secret}"


def revoke_key(session: Session, prefix: str) -> bool:
    key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = datetime.now(UTC)
    session.add(key)
    session.commit()
    return True


CACHE_SECONDS = 5.0
"""How long a verified key is trusted without asking the database again: a revoked key stops
working within this many seconds in every worker."""
_verified: dict[str, tuple[Caller, float]] = {}


def recently_verified(presented: str | None) -> Caller | None:
    """The caller of a key verified less than :data:`CACHE_SECONDS` ago, without the database."""
    cached = _verified.get(_hash(presented or ""))
    return cached[0] if cached is not None and cached[1] > time.monotonic() else None


def authenticate(session: Session, presented: str | None) -> Caller:
    """The caller a presented key belongs to; 401 for a missing, malformed, unknown or revoked key."""
    caller = recently_verified(presented)
    if caller is None:
        caller = _verify(session, presented)
        _verified[_hash(presented or "")] = (caller, time.monotonic() + CACHE_SECONDS)
    return caller


def _verify(session: Session, presented: str | None) -> Caller:
    if not presented:
        raise Problem(401, "unauthorized", "an API key is required (Authorization: Bearer … or X-API-Key)")
    parts = presented.split("_")
    if len(parts) < 3 or parts[0] != "mr":
        raise Problem(401, "unauthorized", "malformed API key")
    prefix, secret = parts[1], "_".join(parts[2:])
    row = session.exec(
        select(ApiKey, Institution)
        .join(Institution, Institution.id == ApiKey.institution_id)  # type: ignore[arg-type]
        .where(ApiKey.prefix == prefix)
    ).first()
    if row is None or row[0].revoked_at is not None or not hmac.compare_digest(row[0].secret_hash, _hash(secret)):
        raise Problem(401, "unauthorized", "unknown or revoked API key")
    key, institution = row
    return Caller(institution.id, institution.kind, frozenset(key.scopes.split()))


def mask_id_number(id_number: str) -> str:
    """身份证号 masked for display: first 6 and last 4 kept (``110101********1234``)."""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]
