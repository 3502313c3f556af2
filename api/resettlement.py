"""Re-settlement of a person-year (identity granted or revoked retroactively, an earlier claim
reversed): the year settled again in arrival order, per-fund adjustments recorded as deltas —
history is never rewritten."""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import store
from api.engine import ClaimFacts, Outcome, settle_one
from api.models import Adjustment, Identity, Person, Settlement
from api.schemas import IdentityIn, ResettlementOut
from tiers.tables import CompiledPolicy


def resettle_year(
    session: Session, actor: str, person_id: str, year: int, policy: CompiledPolicy, reason: str
) -> ResettlementOut:
    """Re-settle a person-year in arrival order with the identities as now known; record deltas.

    Settlements are never rewritten: where a fund's amount changes, an :class:`Adjustment`
    holds the difference between the new amount and what was effectively paid so far; the
    accumulators become the re-settled year's.
    """
    store.lock_person(session, person_id)
    run_id = store.new_id("A")
    running: dict[store.Key, tuple[int, int, int]] = {}
    adjustments: list[Adjustment] = []
    active = store.active_settlements(session, person_id, year)
    for row in active:
        facts = ClaimFacts.of(row, yuan=False)
        categories = store.categories_on(session, person_id, row.settle_date)
        outcome = settle_one(facts, categories, policy, running)
        running = store.plus(running, outcome.delta)
        adjustments += _adjust(session, row, outcome, run_id, reason)
    store.write_accumulators(session, person_id, year, set(store.accumulator_rows(session, person_id, year)), running)
    store.audit(session, actor, "resettle", "person_year", f"{person_id}/{year}", run_id=run_id, reason=reason)
    out = [
        store.AdjustmentOut(run_id=a.run_id, output=a.output, delta=store.yuan(a.delta), reason=a.reason)
        for a in adjustments
    ]
    return ResettlementOut(run_id=run_id, person_id=person_id, year=year, claims=len(active), adjustments=out)


def _adjust(session: Session, row: Settlement, outcome: Outcome, run_id: str, reason: str) -> list[Adjustment]:
    made = []
    already = store.adjustments_of(session, row.setl_id)
    note = reason if outcome.category == row.category else f"{reason}; category {row.category} → {outcome.category}"
    for output in ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"):
        effective = getattr(row, output) + sum(a.delta for a in already if a.output == output)
        delta = outcome.amounts[output] - effective
        if delta:
            adjustment = Adjustment(
                run_id=run_id,
                setl_id=row.setl_id,
                person_id=row.person_id,
                year=row.year,
                output=output,
                delta=delta,
                reason=note,
            )
            session.add(adjustment)
            made.append(adjustment)
    return made


def resettle_from(
    session: Session, actor: str, person_id: str, start: date, policy: CompiledPolicy, reason: str
) -> list[ResettlementOut]:
    """Re-settle every year of the person with a settlement on or after ``start``."""
    years = session.exec(
        select(Settlement.year).where(Settlement.person_id == person_id, Settlement.settle_date >= start).distinct()
    ).all()
    return [resettle_year(session, actor, person_id, y, policy, reason) for y in sorted(set(years))]


def ensure_identities(
    session: Session, actor: str, person_id: str, identities: list[IdentityIn], policy: CompiledPolicy
) -> list[ResettlementOut]:
    """Register the person if new and record identities not yet known (a back-dated one re-settles)."""
    if session.get(Person, person_id) is None:
        try:
            with session.begin_nested():  # a concurrent first sight of the same person may win the insert
                session.add(Person(person_id=person_id))
        except IntegrityError:
            pass
        else:
            store.audit(session, actor, "register", "person", person_id, identities=len(identities))
    store.lock_person(session, person_id)
    known = {
        (i.category, i.valid_from, i.valid_to)
        for i in session.exec(
            select(Identity).where(Identity.person_id == person_id, col(Identity.revoked_at).is_(None))
        )
    }
    runs: list[ResettlementOut] = []
    for identity in identities:
        if (identity.category, identity.valid_from, identity.valid_to) in known:
            continue
        row = Identity(person_id=person_id, **identity.model_dump())
        session.add(row)
        session.flush()
        store.audit(session, actor, "grant", "identity", str(row.id), person_id=person_id, category=identity.category)
        reason = f"identity {identity.category} granted from {identity.valid_from}"
        runs += resettle_from(session, actor, person_id, identity.valid_from, policy, reason)
    return runs
