"""The one-stop flows: pre-settle, settle (one claim, or a batch), reverse. One transaction each.

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

from sqlmodel import Session

from api import reads, store
from api.auth import Caller
from api.engine import Case, ClaimFacts, Outcome, settle_many, settle_one
from api.errors import Problem
from api.models import Settlement, SettlementLine
from api.reads import KeyState
from api.resettlement import resettle_year
from api.schemas import ClaimIn, SettlementOut
from api.sql import Unit, Write, commit, driver, merged
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
def claimed(institution_id: str, key: str | None) -> Iterator[None]:
    """This process's claim on a key while its request is processed: a second request with the
    same key meanwhile gets 409 (other workers: the advisory lock of :mod:`api.reads`)."""
    if not key:
        yield
        return
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


def _replayed(state: KeyState, digest: str) -> Reply | None:
    """The stored reply of a key (same request), or None if the key is new; 409 while another
    transaction holds it, 422 when it was used with another request."""
    if not state.free:
        raise Problem(*IN_FLIGHT)
    if state.stored is None:
        return None
    if state.stored[0] != digest:
        raise Problem(
            422, "idempotency_key_reused", "this Idempotency-Key was used with another request", "Idempotency-Key"
        )
    return Reply(state.stored[1], state.stored[2], replayed=True)


Work = Callable[[], tuple[Reply, list[Write]]]
"""A flow's work: its reply, and the statements still to run before the commit (sent with it)."""


def idempotent(unit: Unit, caller: Caller, key: str | None, digest: str, work: Work) -> Reply:
    """Run ``work`` once per (institution, key); store its reply in the same transaction."""
    if not key:
        reply, writes = work()
        commit(unit, writes)
        return reply
    with claimed(caller.institution_id, key):
        (found,) = reads.read(driver(unit), [reads.Wanted(caller.institution_id, key)])
        replay = _replayed(found.key, digest)
        if replay is not None:
            unit.rollback()
            return replay
        reply, writes = work()
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


def _facts(claim: ClaimIn) -> ClaimFacts:
    problem = claim.components_problem()
    if problem:
        raise Problem(422, "invalid_claim", problem, "medfee_sumamt")
    return ClaimFacts.of(claim, yuan=True)


def _not_registered(person_id: str) -> Problem:
    return Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")


Prepare = Callable[[], None]
"""Work done first in the same transaction (e.g. identities that came with the claim)."""


def pre_settlement(
    unit: Unit, caller: Caller, claim: ClaimIn, policy: CompiledPolicy, prepare: Prepare | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """试算: the settlement's values and lines (:func:`api.store.settlement_json`); nothing
    stored, accumulators untouched (the unit's transaction is rolled back once read)."""
    facts = _facts(claim)
    if prepare:
        prepare()
    wanted = reads.Wanted(caller.institution_id, None, facts.person_id, facts.settle_date)
    try:
        (found,) = reads.read(driver(unit), [wanted])
    finally:
        unit.rollback()
    if found.year is None:
        raise _not_registered(facts.person_id)
    outcome = settle_one(facts, found.year.categories, policy, found.year.accumulators)
    row = store.settlement_values(facts, outcome, caller.institution_id, policy.id, 0, "")
    row["status"] = "not_stored"
    return row, outcome.lines


def pre_settle(
    session: Session, caller: Caller, claim: ClaimIn, policy: CompiledPolicy, prepare: Prepare | None = None
) -> SettlementOut:
    """:func:`pre_settlement` as the response model (NHSA and FHIR build theirs from it)."""
    return store.settlement_out(*pre_settlement(session, caller, claim, policy, prepare), [])


@dataclass(frozen=True)
class SettleRequest:
    """A claim to settle, checked and hashed (its Idempotency-Key's request hash)."""

    caller: Caller
    facts: ClaimFacts
    key: str | None
    digest: str

    @classmethod
    def of(cls, caller: Caller, claim: ClaimIn, key: str | None, digest_extra: str = "") -> SettleRequest:
        return cls(caller, _facts(claim), key, request_hash("settle", claim.model_dump_json() + digest_extra))

    @property
    def wanted(self) -> reads.Wanted:
        facts = self.facts
        return reads.Wanted(self.caller.institution_id, self.key, facts.person_id, facts.settle_date, facts.claim_id)

    @property
    def slots(self) -> tuple[tuple[str, ...], ...]:
        """What two requests of one batch may not share: the person, the institution's claim, the key."""
        institution = self.caller.institution_id
        person, claim = ("person", self.facts.person_id), ("claim", institution, self.facts.claim_id)
        return (person, claim, ("key", institution, self.key)) if self.key else (person, claim)


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
    request = SettleRequest.of(caller, claim, key, digest_extra)
    if prepare:
        prepare()  # in the same transaction: undone with it if the key replays or the work fails
    with claimed(caller.institution_id, key):
        (done,) = settle_batch(unit, [request], policy)
    if isinstance(done, Problem):
        raise done
    return done


def settle_batch(unit: Unit, requests: Sequence[SettleRequest], policy: CompiledPolicy) -> list[Reply | Problem]:
    """结算 of claims of distinct persons in one transaction: one reading, one engine call, one
    write of every row, one commit (group commit). Each claim gets its own reply or problem; a
    claim refused (replayed key, unknown person, already settled, out of order) does not stop
    the others. The caller holds each key (:func:`claimed`)."""
    _check_distinct(requests)
    found = reads.read(driver(unit), [r.wanted for r in requests])
    results = [_checked(request, f) for request, f in zip(requests, found, strict=True)]
    todo = [i for i, result in enumerate(results) if result is None]
    cases = [Case(requests[i].facts, _year(found[i]).categories, _year(found[i]).accumulators) for i in todo]
    writes: list[Write] = []
    for i, outcome in zip(todo, settle_many(cases, policy), strict=True):
        results[i] = _recorded(requests[i], _year(found[i]), outcome, policy.id, writes)
    if writes:
        commit(unit, merged(writes))
    else:
        unit.rollback()
    done = [result for result in results if result is not None]
    assert len(done) == len(requests)  # every claim settled or refused
    return done


def _check_distinct(requests: Sequence[SettleRequest]) -> None:
    slots = [slot for request in requests for slot in request.slots]
    if len(set(slots)) < len(slots):
        raise ValueError("a batch settles one claim per person, claim and key")


def _year(found: reads.Found) -> reads.PersonYear:
    assert found.year is not None  # checked by _checked
    return found.year


def _checked(request: SettleRequest, found: reads.Found) -> Reply | Problem | None:
    """A claim's reply without settling it (a replay, or why it is refused), or None: settle it."""
    try:
        replay = _replayed(found.key, request.digest) if request.key else None
        if replay is not None:
            return replay
        if found.year is None:
            return _not_registered(request.facts.person_id)
        if found.year.active_claim:
            claim_id = request.facts.claim_id
            return Problem(409, "already_settled", f"claim {claim_id} is already settled; reverse it first", "claim_id")
        _check_order(request.facts, found.year.last_date)
    except Problem as problem:
        return problem
    return None


def _recorded(
    request: SettleRequest, year: reads.PersonYear, outcome: Outcome, policy_id: str, writes: list[Write]
) -> Reply:
    """The reply of a settled claim; its rows appended to ``writes``."""
    facts, institution, setl_id = request.facts, request.caller.institution_id, store.new_id("S")
    row = store.settlement_values(facts, outcome, institution, policy_id, year.next_seq, setl_id)
    closing = store.plus(year.accumulators, outcome.delta)
    touched = {key: closing[key] for key in outcome.delta}  # the other buckets' rows stay as stored
    reply = Reply(201, store.settlement_json(row, outcome.lines))
    writes += [
        *store.settlement_writes(row, outcome.lines),
        *store.accumulator_writes(facts.person_id, facts.settle_date.year, set(), touched),
        *store.audit_writes(institution, "settle", "settlement", setl_id, claim_id=facts.claim_id),
    ]
    if request.key:
        writes += store.reply_writes(institution, request.key, request.digest, reply.status, reply.body)
    return reply


def reverse(session: Session, caller: Caller, setl_id: str, policy: CompiledPolicy, key: str | None) -> Reply:
    """冲正: reverse a settlement (a negated row), then re-settle the rest of its person-year."""
    digest = request_hash("reverse", setl_id)

    def work() -> tuple[Reply, list[Write]]:
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
