"""The registry of persons and their relief identities (from the civil-affairs side), as desk acts.

Registering a person records its identity periods. Granting an identity after the fact, or
revoking one retroactively (容缺审批 not confirmed), re-settles every year in which the person has
a standing settlement dated within the identity's period (:func:`api.years.resettle_years`).
Each act is one unit of work, committed here; the audit log names who did it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from api.books import queries, writing
from api.books.driver import Driver
from api.errors import Problem
from api.years import YearRun, resettle_years
from tiers.tables import CompiledPolicy

Period = tuple[str, date, date | None, str]
"""An identity period as given: category, valid_from, valid_to (None: open), source."""


def register(db: Driver, *, actor: str, person_id: str, name: str, id_number: str, periods: list[Period]) -> None:
    """A new person with identity periods (409 if the person is registered)."""
    if queries.person(db, person_id=person_id) is not None:
        raise Problem(409, "person_exists", f"person {person_id} is already registered", "person_id")
    db.run_all(writing.person_writes(person_id=person_id, name=name, id_number=id_number))
    db.commit(
        [
            *writing.identity_writes(person_id=person_id, periods=periods),
            *writing.audit_writes(actor, "register", "person", person_id, identities=len(periods)),
        ]
    )


def _locked(db: Driver, person_id: str) -> None:
    if queries.person(db, person_id=person_id, lock=True) is None:
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")


def add_identity(
    db: Driver, *, actor: str, person_id: str, period: Period, policy: CompiledPolicy
) -> tuple[int, list[YearRun]]:
    """Grant an identity (back-dated: the years it touches are re-settled), not committed: its id
    and the re-settlement."""
    _locked(db, person_id)
    db.run_all(writing.identity_writes(person_id=person_id, periods=[period]))
    identity = max(int(r["id"]) for r in queries.identities(db, person_id=person_id))
    category, start, end, _ = period
    db.run_all(writing.audit_writes(actor, "grant", "identity", str(identity), person_id=person_id, category=category))
    years = queries.years_settled(db, person_id=person_id, start=start, end=end)
    reason = f"identity {category} granted from {start}"
    return identity, resettle_years(db, actor=actor, person_id=person_id, years=years, policy=policy, reason=reason)


def grant(db: Driver, *, actor: str, person_id: str, period: Period, policy: CompiledPolicy,
          dry_run: bool = False) -> list[YearRun]:  # fmt: skip
    """Grant an identity; committed (``dry_run``: what it would adjust, nothing kept)."""
    _, runs = add_identity(db, actor=actor, person_id=person_id, period=period, policy=policy)
    return finish(db, runs, dry_run=dry_run)


def finish(db: Driver, runs: list[YearRun], *, dry_run: bool) -> list[YearRun]:
    """Commit an act's writes, or for a dry run roll them back: the runs say what it adjusts."""
    if dry_run:
        db.rollback()
    else:
        db.commit()
    return runs


def end_identity(db: Driver, *, actor: str, person_id: str, identity_id: int, policy: CompiledPolicy) -> list[YearRun]:
    """Revoke an identity retroactively (the years it touched are re-settled), not committed."""
    _locked(db, person_id)
    found: dict[str, Any] | None = next(
        (r for r in queries.identities(db, person_id=person_id) if int(r["id"]) == identity_id), None
    )
    if found is None:
        raise Problem(404, "identity_not_found", f"person {person_id} has no identity {identity_id}", "identity_id")
    if found["revoked_at"] is not None:
        raise Problem(409, "already_revoked", f"identity {identity_id} is already revoked")
    db.run_all(
        [
            writing.revoked_write(identity_id=identity_id, person_id=person_id),
            *writing.audit_writes(actor, "revoke", "identity", str(identity_id), person_id=person_id),
        ]
    )
    years = queries.years_settled(db, person_id=person_id, start=found["valid_from"], end=found["valid_to"])
    reason = f"identity {found['category']} revoked"
    return resettle_years(db, actor=actor, person_id=person_id, years=years, policy=policy, reason=reason)


def revoke(db: Driver, *, actor: str, person_id: str, identity_id: int, policy: CompiledPolicy,
           dry_run: bool = False) -> list[YearRun]:  # fmt: skip
    """Revoke an identity retroactively; committed (``dry_run``: what it would adjust, nothing kept)."""
    runs = end_identity(db, actor=actor, person_id=person_id, identity_id=identity_id, policy=policy)
    return finish(db, runs, dry_run=dry_run)


def resettle_on_request(db: Driver, *, actor: str, person_id: str, year: int, policy: CompiledPolicy) -> YearRun:
    """Re-settle one person-year as the books now stand (an administrator's request); committed."""
    _locked(db, person_id)
    (run,) = resettle_years(db, actor=actor, person_id=person_id, years=[year], policy=policy,
                            reason="re-settlement on request")  # fmt: skip
    db.commit()
    return run
