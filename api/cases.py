"""Cases, from warning to decision (预警 → 申请 → 审批 / 容缺审批 → 核对), as desk acts.

A warned person-year becomes a case (one per person and year; a declined or revoked case is
reopened, not repeated). Its steps: ``apply``; ``approve`` with a category, an effective date that
may be in the past and whether it is fast-track (容缺: approved on a credit promise before the
checks come back) — the identity is granted through the registry's retroactive path, so the
person-year is re-settled with per-fund adjustments; ``verify`` (the checks came back clean);
``decline``; ``revoke`` (the checks failed: the identity is revoked, the year re-settled, and what
it paid is owed back as the policy says — :mod:`settlement.clawback`); ``reopen``; and ``recover``
(money recorded as recovered, per fund). Each step is dated, names who took it and is in the audit
log; approve and revoke can be dry runs (nothing kept). A step taken twice is refused (409), so a
retried request never grants or claws back twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from api import registry
from api.books import cases as books
from api.books import queries, writing
from api.books.driver import Driver
from api.clawback import outstanding, statement
from api.errors import Problem
from api.years import YearRun
from tiers.tables import CompiledPolicy

MOVES = {
    "apply": (("warned",), "applied"),
    "approve": (("applied",), "approved"),
    "verify": (("approved",), "verified"),
    "decline": (("warned", "applied"), "declined"),
    "revoke": (("approved", "verified"), "revoked"),
    "reopen": (("declined", "revoked"), "applied"),
}
"""Each step: the states it may be taken from, and the state it leads to."""
OPENED_AS = ("warned", "applied")


@dataclass(frozen=True)
class Approval:
    """What an approval decides: the category, from when (and until when), whether 容缺."""

    category: str
    effective_from: date
    valid_to: date | None = None
    fast_track: bool = False


def open_case(db: Driver, *, actor: str, person_id: str, year: int, state: str = "warned", note: str = "") -> str:
    """A new case for the person-year (409 if it has one); committed; its id."""
    if queries.person(db, person_id=person_id, lock=True) is None:
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")
    existing = books.case_of(db, person_id=person_id, year=year)
    if existing is not None:
        detail = f"person {person_id} has case {existing} for {year} (reopen it)"
        raise Problem(409, "case_exists", detail, "person_id", case_id=existing)
    if state not in OPENED_AS:
        raise Problem(422, "bad_state", f"a case opens as one of {', '.join(OPENED_AS)}, not {state!r}", "state")
    case_id = writing.new_id("C")
    db.commit(
        [
            *books.case_writes(case_id=case_id, person_id=person_id, year=year, state=state),
            *books.step_writes(case_id=case_id, step=state, actor=actor, note=note),
            *writing.audit_writes(actor, f"case_{state}", "case", case_id, person_id=person_id, year=year),
        ]
    )
    return case_id


def _moved(db: Driver, case_id: str, step: str) -> dict[str, Any]:
    """The case, locked, if ``step`` may be taken from its state (404 / 409 otherwise)."""
    found = books.case(db, case_id=case_id, lock=True)
    if found is None:
        raise Problem(404, "case_not_found", f"no case {case_id}", "case_id")
    allowed, to = MOVES[step]
    if found["state"] not in allowed:
        detail = f"case {case_id} is {found['state']}: {step} needs it {' or '.join(allowed)}"
        raise Problem(409, "wrong_state", detail, "state", state=found["state"])
    return {**found, "state": to}


def _record(db: Driver, found: dict[str, Any], step: str, actor: str, note: str, runs: list[YearRun]) -> None:
    ids = [run.run_id for run in runs]
    db.run_all(
        [
            books.case_update(found),
            *books.step_writes(case_id=found["id"], step=step, actor=actor, note=note, runs=ids),
            *writing.audit_writes(actor, f"case_{step}", "case", found["id"], state=found["state"], runs=ids),
        ]
    )


def move(db: Driver, *, actor: str, case_id: str, step: str, note: str = "") -> None:
    """A step that moves no money (apply, verify, decline, reopen); committed."""
    if step not in ("apply", "verify", "decline", "reopen"):
        raise Problem(422, "bad_step", f"{step!r} is not a step without money", "step")
    found = _moved(db, case_id, step)
    _record(db, found, step, actor, note, [])
    db.commit()


def approve(db: Driver, *, actor: str, case_id: str, approval: Approval, policy: CompiledPolicy,
            note: str = "", dry_run: bool = False) -> list[YearRun]:  # fmt: skip
    """Approve: grant the identity from its effective date (re-settles); committed unless a dry run."""
    if approval.category not in policy.profiles.categories:
        detail = f"{approval.category!r} is not a relief category of policy {policy.id}"
        raise Problem(422, "unknown_category", detail, "category")
    found = _moved(db, case_id, "approve")
    source = f"case {case_id}" + (" (容缺审批, fast-track)" if approval.fast_track else "")
    period = (approval.category, approval.effective_from, approval.valid_to, source)
    identity, runs = registry.add_identity(db, actor=actor, person_id=found["person_id"], period=period, policy=policy)
    found.update(category=approval.category, effective_from=approval.effective_from,
                 fast_track=approval.fast_track, identity_id=identity)  # fmt: skip
    _record(db, found, "approve", actor, note, runs)
    return registry.finish(db, runs, dry_run=dry_run)


def revoke(db: Driver, *, actor: str, case_id: str, policy: CompiledPolicy, note: str = "",
           dry_run: bool = False) -> list[YearRun]:  # fmt: skip
    """Revoke the approval: its identity revoked, the years re-settled; committed unless a dry run."""
    found = _moved(db, case_id, "revoke")
    runs = registry.end_identity(db, actor=actor, person_id=found["person_id"], identity_id=found["identity_id"],
                                 policy=policy)  # fmt: skip
    _record(db, found, "revoke", actor, note, runs)
    return registry.finish(db, runs, dry_run=dry_run)


def recover(db: Driver, *, actor: str, case_id: str, output: str, amount: int, policy: CompiledPolicy,
            note: str = "") -> None:  # fmt: skip
    """Record ``amount`` (fen) recovered for fund ``output``, at most what is outstanding; committed."""
    if books.case(db, case_id=case_id, lock=True) is None:
        raise Problem(404, "case_not_found", f"no case {case_id}", "case_id")
    left = outstanding(statement(db, case_id=case_id, policy=policy), output)
    if amount <= 0 or amount > left:
        detail = f"{output}: {amount} fen recorded against {left} fen outstanding"
        raise Problem(422, "bad_recovery", detail, "amount", outstanding=left)
    db.commit(
        [
            *books.step_writes(case_id=case_id, step="recover", actor=actor, note=note, output=output, amount=amount),
            *writing.audit_writes(actor, "case_recover", "case", case_id, output=output, amount=amount),
        ]
    )
