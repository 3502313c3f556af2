"""The one-stop flows: pre-settle, settle, reverse, re-settle a person-year. One transaction each.

Idempotency (``Idempotency-Key`` or the hospital's message id): the first response is stored
with the settlement in the same transaction, so a retry replays it byte for byte; the same key
with another body is refused (422); a retry while the first is still being processed gets 409
(a process-local registry, plus a PostgreSQL advisory lock across workers).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import store
from api.auth import Caller
from api.engine import ClaimFacts, Outcome, settle_one
from api.errors import Problem
from api.models import Adjustment, Identity, Person, Settlement, SettlementLine
from api.schemas import ClaimIn, IdentityIn, ResettlementOut, SettlementOut
from api.sql import Read, Unit, Write, commit, driver
from tiers.tables import CompiledPolicy

_in_flight: set[tuple[str, str]] = set()
_in_flight_lock = threading.Lock()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    replayed: bool = False


def request_hash(route: str, body: str) -> str:
    return hashlib.sha256(f"{route}\n{body}".encode()).hexdigest()


IN_FLIGHT = (409, "request_in_flight", "a request with this Idempotency-Key is still being processed")


@contextmanager
def _claimed(institution_id: str, key: str) -> Iterator[None]:
    """This process's claim on a key (other workers: the advisory lock of :func:`store.key_reads`)."""
    slot = (institution_id, key)
    with _in_flight_lock:
        if slot in _in_flight:
            raise Problem(*IN_FLIGHT)
        _in_flight.add(slot)
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight.discard(slot)


Rows = list[list[tuple[Any, ...]]]
Work = Callable[[Rows], tuple[Reply, list[Write]]]
"""A flow's work, given the rows of its first reads: its reply, and the statements still to run
before the commit (sent with it)."""


def idempotent(
    unit: Unit, caller: Caller, key: str | None, digest: str, work: Work, reads: Sequence[Read] = ()
) -> Reply:
    """Run ``work`` once per (institution, key); store its reply in the same transaction.

    Round trips on a bare PostgreSQL transaction: the key's check with the work's first
    ``reads``; then the work's last statements, the reply record and the commit
    (:func:`api.sql.commit`).
    """
    db = driver(unit)
    if not key:
        reply, writes = work(db.read_all(reads))
        commit(unit, writes)
        return reply
    with _claimed(caller.institution_id, key):
        checks = store.key_reads(db, caller.institution_id, key)
        rows = db.read_all([*checks, *reads])
        free, stored = store.key_state(rows[: len(checks)])
        if not free:
            raise Problem(*IN_FLIGHT)
        if stored is not None:
            unit.rollback()
            if stored[0] != digest:
                raise Problem(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another request",
                    "Idempotency-Key",
                )
            return Reply(stored[1], stored[2], replayed=True)
        reply, writes = work(rows[len(checks) :])
        commit(unit, [*writes, *store.reply_writes(caller.institution_id, key, digest, reply.status, reply.body)])
        return reply


def _check_order(facts: ClaimFacts, last: date | None) -> None:
    if last is not None and last > facts.settle_date:
        raise Problem(
            409,
            "out_of_order",
            f"settle_date {facts.settle_date} is before the person's last settlement of the year "
            f"({last}); claims settle in date order — re-settle the year instead",
            "settle_date",
        )


def _outcome(facts: ClaimFacts, policy: CompiledPolicy, year: store.PersonYear) -> Outcome:
    ledger = store.as_ledger(facts.person_id, facts.settle_date.year, year.accumulators)
    return settle_one(facts, year.categories, policy, ledger)


def _facts(claim: ClaimIn) -> ClaimFacts:
    problem = claim.components_problem()
    if problem:
        raise Problem(422, "invalid_claim", problem, "medfee_sumamt")
    return ClaimFacts.of(claim, yuan=True)


Prepare = Callable[[], None]
"""Work done first in the same transaction (e.g. identities that came with the claim)."""


def pre_settle(
    session: Session, caller: Caller, claim: ClaimIn, policy: CompiledPolicy, prepare: Prepare | None = None
) -> SettlementOut:
    """试算: the full result; nothing stored, accumulators untouched."""
    facts = _facts(claim)
    if prepare:
        prepare()
    outcome = _outcome(facts, policy, store.read_person_year(session, facts.person_id, facts.settle_date))
    row = store.settlement_values(facts, outcome, caller.institution_id, policy.id, 0, "")
    row["status"] = "not_stored"
    session.rollback()
    return store.settlement_out(row, outcome.lines, [])


def settle(
    unit: Unit,
    caller: Caller,
    claim: ClaimIn,
    policy: CompiledPolicy,
    key: str | None,
    prepare: Prepare | None = None,
    digest_extra: str = "",
) -> Reply:
    """结算: settle one claim on the person's year-to-date accumulators and store everything."""
    facts = _facts(claim)
    digest = request_hash("settle", claim.model_dump_json() + digest_extra)

    if prepare:
        prepare()  # in the same transaction: undone with it if the key replays or the work fails
    db = driver(unit)
    reads = store.person_year_reads(db, facts.person_id, facts.settle_date, caller.institution_id, facts.claim_id)

    def work(rows: Rows) -> tuple[Reply, list[Write]]:
        year = store.person_year(facts.person_id, rows)
        if year.active_claim is not None:
            raise Problem(
                409, "already_settled", f"claim {facts.claim_id} is already settled; reverse it first", "claim_id"
            )
        _check_order(facts, year.last_date)
        outcome = _outcome(facts, policy, year)
        setl_id, institution = store.new_id("S"), caller.institution_id
        row = store.settlement_values(facts, outcome, institution, policy.id, year.next_seq, setl_id)
        closing = store.plus(year.accumulators, outcome.delta)
        writes = [
            *store.settlement_writes(row, outcome.lines),
            *store.accumulator_writes(facts.person_id, facts.settle_date.year, set(year.accumulators), closing),
            *store.audit_writes(institution, "settle", "settlement", setl_id, claim_id=facts.claim_id),
        ]
        return Reply(201, store.settlement_json(row, outcome.lines)), writes

    return idempotent(unit, caller, key, digest, work, reads)


def reverse(session: Session, caller: Caller, setl_id: str, policy: CompiledPolicy, key: str | None) -> Reply:
    """冲正: reverse a settlement (a negated row), then re-settle the rest of its person-year."""
    digest = request_hash("reverse", setl_id)

    def work(_rows: Rows) -> tuple[Reply, list[Write]]:
        original = session.get(Settlement, setl_id)
        if original is None or not caller.may_read(original.institution_id):
            raise Problem(404, "settlement_not_found", f"no settlement {setl_id}", "setl_id")
        if original.institution_id != caller.institution_id and "admin" not in caller.scopes:
            raise Problem(403, "not_your_settlement", "only the institution that settled a claim may reverse it")
        store.lock_person(session, original.person_id)
        session.refresh(original)
        if original.kind != "settlement" or original.status != "settled":
            raise Problem(409, "already_reversed", f"settlement {setl_id} is already reversed or is a reversal")
        reversal = _reversal_row(session, original)
        resettle_year(
            session, caller.institution_id, original.person_id, original.year, policy, f"reversal of {setl_id}"
        )
        store.audit(session, caller.institution_id, "reverse", "settlement", setl_id, reversal=reversal.setl_id)
        lines = store.lines_of(session, reversal.setl_id)
        return Reply(201, store.settlement_out(reversal, lines, []).model_dump_json().encode()), []

    return idempotent(session, caller, key, digest, work)


def _reversal_row(session: Session, original: Settlement) -> Settlement:
    money = {f: -getattr(original, f) for f in store.SETTLEMENT_MONEY}
    reversal = replace_row(original, setl_id=store.new_id("R"), kind="reversal", reverses=original.setl_id, **money)
    reversal.seq = store.next_seq(session, original.person_id)
    original.status, original.reversed_by = "reversed", reversal.setl_id
    session.add(original)
    session.add(reversal)
    for line in store.lines_of(session, original.setl_id):
        negated = {f: -getattr(line, f) for f in ("base", "deductible_applied", "raw_amount", "paid")}
        fields = line.model_dump(exclude={"id", "setl_id"})
        session.add(SettlementLine(**{**fields, **negated, "setl_id": reversal.setl_id, "cap": -1, "cap_left": -1}))
    return reversal


def replace_row(row: Settlement, **changes: object) -> Settlement:
    fields = row.model_dump(exclude={"created_at"})
    return Settlement(**{**fields, **changes, "created_at": datetime.now(UTC)})


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
        outcome = settle_one(facts, categories, policy, store.as_ledger(person_id, year, running))
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
