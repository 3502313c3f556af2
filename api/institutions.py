"""The registry of institutions (定点医药机构), as the national platform knows them.

An institution has a code (``fixmedins_code``, the id its API keys belong to), a name, a kind
(hospital, insurer, actuary, admin, civil_affairs), a hospital tier (one of the policy's tiers: the platform knows
a hospital's level from its code, so real HIS clients never send ``hosp_lv``), a region
(``admdvs``) and the dates it is a 定点 institution. ``medrelief institutions add|list|deactivate``
and ``/v1/institutions`` (admin) keep it; every protocol's claim takes its hospital tier from it
(:func:`claim_tier`), and the desk refuses a claim of an institution not active on its date.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from api.auth import KINDS, Caller
from api.books import keys
from api.books.driver import Driver
from api.errors import Problem
from tiers.tables import CompiledPolicy

ADMDVS = re.compile(r"^[0-9]{6}$")


class RegistryError(ValueError):
    """An institution the registry cannot hold as given (the field and why)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _checked_tier(tier: str | None, policy: CompiledPolicy) -> str | None:
    if tier is None or tier == "":
        return None
    known = [str(t) for t in policy.profiles.tiers]
    if tier not in known:
        raise RegistryError("hospital_tier", f"{tier!r} is not a hospital tier of policy {policy.id} {known}")
    return tier


def register(
    db: Driver,
    policy: CompiledPolicy,
    *,
    code: str,
    name: str,
    kind: str = "hospital",
    tier: str | None = None,
    admdvs: str = "",
    active_from: date | None = None,
) -> dict[str, Any]:
    """Register an institution, or replace its registration (its keys and books are kept); committed.
    A hospital's tier must be one of the policy's; a region is six digits."""
    if kind not in KINDS:
        raise RegistryError("kind", f"{kind!r}; expected one of {', '.join(KINDS)}")
    if not code or len(code) > 64 or not code.isprintable():
        raise RegistryError("code", "1–64 printable characters")
    if admdvs and not ADMDVS.match(admdvs):
        raise RegistryError("admdvs", f"{admdvs!r} is not a six-digit 医保区划 code")
    checked = _checked_tier(tier, policy)
    known = keys.institution(db, institution_id=code) is not None
    db.commit(keys.registration_writes(known=known, institution_id=code, name=name or code, kind=kind, tier=checked,
                                       admdvs=admdvs, active_from=active_from))  # fmt: skip
    return _row(db, code)


def deactivate(db: Driver, code: str, on: date) -> dict[str, Any]:
    """The institution stops being a 定点 institution after ``on``; committed."""
    if not keys.deactivate(db, institution_id=code, on=on):
        raise RegistryError("code", f"no institution {code}")
    db.commit()
    return _row(db, code)


def _row(db: Driver, code: str) -> dict[str, Any]:
    """The institution as the registry now holds it."""
    return next(i for i in keys.institutions(db) if i["id"] == code)


def claim_tier(caller: Caller, given: int | str | None, field: str) -> int:
    """A claim's hospital tier: the registry's for the calling institution; a tier the message
    gives must agree with it (a message may carry one only where the registry has none)."""
    registered = caller.hospital_tier
    if given is not None and given != "":
        if registered is not None and str(given) != registered:
            detail = f"{given} differs from institution {caller.institution_id}'s tier {registered} in the registry"
            raise Problem(422, "hospital_tier_mismatch", detail, field)
        return int(given)
    if registered is None:
        detail = (
            f"institution {caller.institution_id} has no hospital tier in the registry "
            "(medrelief institutions add … --tier) and the message gives none"
        )
        raise Problem(422, "hospital_tier_unknown", detail, field)
    return int(registered)


def check_active(caller: Caller, day: date) -> None:
    """Refuse a claim of an institution that is not a 定点 institution on its date."""
    if not caller.active_on(day):
        since = caller.active_from or "—"
        until = caller.active_to or "—"
        detail = f"institution {caller.institution_id} is not active on {day} (active {since} to {until})"
        raise Problem(422, "institution_inactive", detail, "settle_date")
