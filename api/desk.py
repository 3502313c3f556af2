"""The settlement desk: one entry point per act, each taking a list, each one unit of work.

- :func:`settle_commands` (结算): claims of distinct persons in one transaction — one reading, one engine
  call, one write of every row, one commit (group commit, :mod:`api.queue`);
- :func:`pre_settle_commands` (试算): the same reading and engine call, nothing stored;
- reversal, re-settlement of person-years and identity changes: :mod:`api.years`.

The native JSON API, the national platform's envelope (:mod:`api.nhsa`) and FHIR
(:mod:`api.fhir`) translate their requests into :class:`SettleCommand` and render its
:class:`Settled` result back (``render``: the reply stored under the Idempotency-Key, so a
retry replays it byte for byte); none of them settles on its own. Every claim is checked here
once, whoever sent it (:func:`check_claim`). Which categories a claim may settle under and the
most favourable of them (就高不重复) are the engine's (:mod:`settlement.identities`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api import institutions
from api.auth import Caller
from api.books import reading, writing
from api.books.driver import Driver, Write, merged
from api.claims import ClaimFacts, birth_date_of, claims_table, ledger_of, settlement_values
from api.commands import Incomplete, Slots, completed, slots_of
from api.early_warnings import early_warnings
from api.errors import Problem
from api.idempotency import Reply, replayed
from api.planted import planted
from api.schemas import ClaimIn
from settlement.engine import SettledBatch
from settlement.engine import settle as settle_claims
from settlement.explanation import columns as explanation
from settlement.identities import IdentityPeriods, with_candidates
from settlement.periods import period_of
from tiers.tables import CompiledPolicy

FUTURE_TOLERANCE = timedelta(days=1)
"""How far past the service's today (in the policy's time zone) a settle_date may lie: a hospital
clock a little ahead, a discharge registered just after midnight on the other side of a border."""


@dataclass(frozen=True)
class Settled:
    """A claim settled (or pre-settled): its row and its lines as the books hold them (fen; a
    line's ``cap``/``cap_left`` -1: no cap), and what the hospital should be told."""

    values: dict[str, Any]
    lines: list[dict[str, Any]]
    warnings: tuple[str, ...] = ()
    person: tuple[str, str] = ("", "")  # the registry's name and ID number of the person
    early_warning: dict[str, Any] | None = None  # group, group_name, burden, threshold (fen), crossed


Render = Callable[[Settled], bytes]
"""How a protocol writes a settlement's reply body (stored under its Idempotency-Key)."""


def now(policy: CompiledPolicy) -> datetime:
    """The service's time of day, in the policy's time zone."""
    return datetime.now(ZoneInfo(policy.policy.timezone))


def today(policy: CompiledPolicy) -> date:
    """The service's today, in the policy's time zone."""
    return now(policy).date()


def check_claim(
    claim: ClaimIn, policy: CompiledPolicy, caller: Caller | None = None, on: date | None = None
) -> ClaimFacts:
    """The one check of a claim, whatever protocol brought it: its parts add up, its visit type and
    hospital tier are ones the policy declares (and the tier the registry holds for the ``caller``'s
    institution, which is active on the claim's date), its admission is not after its discharge,
    its date is within the policy (not before it is in force, not in the future beyond
    :data:`FUTURE_TOLERANCE` of ``on``, the service's today)."""
    if caller is not None:
        institutions.claim_tier(caller, claim.hospital_level, "hospital_level")
        institutions.check_active(caller, claim.settle_date)
    problem = claim.components_problem()
    if problem:
        raise Problem(422, "invalid_claim", problem, "medfee_sumamt")
    visit_types = policy.settles_as
    if claim.med_type not in visit_types:
        detail = f"med_type {claim.med_type!r} is not a visit type of policy {policy.id} ({', '.join(visit_types)})"
        raise Problem(422, "unknown_visit_type", detail, "med_type")
    tiers = policy.profiles.tiers
    if claim.hospital_level not in tiers:
        detail = f"hospital_level {claim.hospital_level} is not a hospital tier of policy {policy.id} {list(tiers)}"
        raise Problem(422, "unknown_hospital_tier", detail, "hospital_level")
    on = on or today(policy)
    if claim.settle_date > on + FUTURE_TOLERANCE:
        detail = f"settle_date {claim.settle_date} is in the future (today is {on})"
        raise Problem(422, "settle_date_in_future", detail, "settle_date")
    if claim.admission_date is not None and claim.admission_date > claim.settle_date:
        detail = f"admission_date {claim.admission_date} is after settle_date {claim.settle_date}"
        raise Problem(422, "invalid_claim", detail, "admission_date")
    facts = ClaimFacts.of(claim, policy.policy.dated_by)
    if facts.dated < policy.versions[0]:
        field = "settle_date" if facts.dated == claim.settle_date else "admission_date"
        detail = f"{field} {facts.dated} is before policy {policy.id} is in force ({policy.versions[0]})"
        raise Problem(422, "before_policy", detail, field)
    return facts


@dataclass(frozen=True)
class SettleCommand:
    """A claim to settle (or pre-settle), checked; who sent it, its Idempotency-Key (namespaced by
    protocol) and request hash, and how its reply is rendered. ``register``: a person not yet
    known is registered on first sight (the platform's way) and settled without a relief identity,
    with a warning; ``declared``: categories the message says the person holds — checked against
    the registry, never written into it; ``submitted``: the document as the client sent it
    (protocol, bytes), kept with the settlement to be read back."""

    caller: Caller
    claim: ClaimFacts
    render: Render
    key: str | None = None
    digest: str = ""
    register: bool = False
    declared: tuple[str, ...] = field(default=())
    submitted: tuple[str, bytes] | None = None

    @property
    def wanted(self) -> reading.Wanted:
        facts = self.claim
        return reading.Wanted(self.caller.institution_id, self.key, facts.person_id, facts.dated, facts.claim_id)

    @property
    def slots(self) -> Slots:
        return slots_of(self.caller.institution_id, self.claim.person_id, self.claim.claim_id, self.key)


Command = SettleCommand | Incomplete
"""What the desk settles: a whole command, or one the books complete (:mod:`api.commands`)."""

__all__ = ["FUTURE_TOLERANCE", "Command", "Incomplete", "Render", "SettleCommand", "Settled", "Slots", "check_claim",
           "completed", "now", "pre_settle_commands", "settle_commands", "slots_of", "today"]  # fmt: skip


def _not_registered(person_id: str) -> Problem:
    return Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")


def _refused(command: SettleCommand, found: reading.Found) -> Reply | Problem | None:
    """A command's reply without settling it (a replay, or why it is refused), or None: settle it."""
    try:
        replay = replayed(found.key, command.digest) if command.key and not planted("idempotency") else None
    except Problem as problem:
        return problem
    if replay is not None:
        return replay
    if found.year is None:
        return _not_registered(command.claim.person_id)
    if found.year.settled_as:
        claim_id, setl_id = command.claim.claim_id, found.year.settled_as
        detail = f"claim {claim_id} is already settled as {setl_id}; reverse it first"
        return Problem(409, "already_settled", detail, "claim_id", setl_id=setl_id)
    return None


def _read(db: Driver, commands: Sequence[SettleCommand], policy: CompiledPolicy) -> list[reading.Found]:
    """The batch's reading; persons to register on first sight are registered first, then read
    again under their new rows' locks (two first sights of one person never both see it empty)."""
    found = reading.read(db, [c.wanted for c in commands], policy.period_start_of)
    new = sorted({c.claim.person_id for c, f in zip(commands, found, strict=True) if c.register and f.year is None})
    if not new:
        return found
    writes: list[Write] = []
    for person in new:
        writes += [
            *writing.person_writes(person_id=person, if_new=True),
            *writing.audit_writes("platform", "register", "person", person),
        ]
    db.run_all(merged(writes))
    again = reading.read(db, [c.wanted for c in commands], policy.period_start_of)
    return [f if f.year is not None or not c.register else g for c, f, g in zip(commands, found, again, strict=True)]


def _settled(
    result: SettledBatch, rows: Sequence[int], commands: Sequence[SettleCommand], found: Sequence[reading.Found]
) -> list[tuple[Settled, reading.Sums]]:
    """Each settled claim's row and lines (fen), and what it added to its accumulators."""
    policy, n_layers = result.policy, len(result.layers)
    fund_types = {layer.id: layer.fund_pay_type or "" for layer in policy.policy.layers}
    explained = {c: v.tolist() for c, v in explanation(result).items()}
    explained["fund_pay_type"] = [fund_types[str(layer)] for layer in explained["layer"]]
    names, by_row = list(explained), list(zip(*explained.values(), strict=True))
    added = _added(result)
    alerts = early_warnings(result, [found[row].year for row in rows])
    out = []
    for i, row in enumerate(rows):
        command, year = commands[row], found[row].year
        assert year is not None
        category = policy.profiles.categories[int(result.category[i])]
        values = settlement_values(command.claim, result, i, category, command.caller.institution_id, year.next_seq)
        lines = [dict(zip(names, line, strict=True)) for line in by_row[i * n_layers : (i + 1) * n_layers]]
        alert = alerts[i]
        warnings = (*_warnings(command, year, category), *([alert["message"]] if alert else []))
        settled = Settled(values, lines, warnings, year.person, alert)
        out.append((settled, added.get(command.claim.person_id, {})))
    return out


def _added(result: SettledBatch) -> dict[str, reading.Sums]:
    """What the batch added to each person's accumulators (one claim, one person-year each)."""
    delta, out = result.delta(), dict[str, reading.Sums]()
    for person, layer, bucket, base, paid, claims in zip(
        delta.person_id.tolist(), delta.layer.tolist(), delta.bucket.tolist(),
        delta.base_cum.tolist(), delta.paid_cum.tolist(), delta.claims.tolist(), strict=True,
    ):  # fmt: skip
        out.setdefault(str(person), {})[(layer, bucket)] = (base, paid, claims)
    return out


def _warnings(command: SettleCommand, year: reading.PersonYear, category: str) -> tuple[str, ...]:
    on = command.claim.dated
    held = [c for c, start, end in year.identities if start <= on and (end is None or on <= end)]
    notes = []
    if not held:
        notes.append(f"person {command.claim.person_id} holds no relief identity on {on}: settled as general")
    unknown = [c for c in command.declared if c not in held]
    if unknown:
        notes.append(f"identities {unknown} sent with the claim are not in the registry on {on}; settled as {category}")
    return tuple(notes)


def _engine(
    commands: Sequence[SettleCommand], found: Sequence[reading.Found], rows: Sequence[int], policy: CompiledPolicy
) -> SettledBatch:
    """The claims of ``rows`` settled in one engine call, each on its person-year's accumulators of
    the policy's buckets (a post-hoc program's rows are not the engine's) under its candidates."""
    buckets = set(policy.stack.buckets)
    years = [found[r].year for r in rows]
    facts = [commands[r].claim for r in rows]
    starts = policy.period_start_of
    opening = [
        (f.person_id, period_of(f.dated, starts[key[0]]), key, sums)
        for f, year in zip(facts, years, strict=True)
        if year is not None
        for key, sums in year.accumulators.items()
        if key in buckets
    ]
    periods = [(f.person_id, c, s, e) for f, y in zip(facts, years, strict=True) if y for c, s, e in y.identities]
    births = [birth_date_of(year.person[1]) if year else None for year in years] if policy.policy.age_bands else None
    table = with_candidates(
        claims_table(facts, policy.settles_as, births=births), IdentityPeriods.of(periods, policy.profiles.categories)
    )
    return settle_claims(table, policy, ledger_of(opening), explain=True)


def _check_distinct(commands: Sequence[Command]) -> None:
    slots = [slot for command in commands for slot in command.slots]
    if len(set(slots)) < len(slots):
        raise ValueError("a batch settles one claim per person, claim and key")


def settle_commands(db: Driver, given: Sequence[Command], policy: CompiledPolicy) -> list[Reply | Exception]:
    """结算 of claims of distinct persons in one transaction (group commit): each gets its reply
    (``render``ed, stored under its key) or its problem; a claim refused (a replayed key, an
    unknown person, a claim already settled, an incomplete one its books refuse) does not stop
    the others. The caller holds each key in this process (:func:`api.idempotency.claimed`)."""
    _check_distinct(given)
    whole = completed(db, given)
    settled = iter(_settle(db, [c for c in whole if isinstance(c, SettleCommand)], policy))
    return [c if isinstance(c, Exception) else next(settled) for c in whole]


def _settle(db: Driver, commands: Sequence[SettleCommand], policy: CompiledPolicy) -> list[Reply | Problem]:
    if not commands:
        db.rollback()
        return []
    found = _read(db, commands, policy)
    results: list[Reply | Problem | None] = [_refused(c, f) for c, f in zip(commands, found, strict=True)]
    todo = [i for i, r in enumerate(results) if r is None]
    writes: list[Write] = []
    if todo:
        for i, (done, added) in zip(
            todo, _settled(_engine(commands, found, todo, policy), todo, commands, found), strict=True
        ):
            results[i] = _recorded(commands[i], found[i], done, added, writes, policy)
    if writes and planted("transaction"):  # the settlement's rows and its accumulators apart
        db.commit(merged([w for w in writes if not _accumulating(w)]))
        db.commit(merged([w for w in writes if _accumulating(w)]))
    elif writes:
        db.commit(merged(writes))
    else:
        db.rollback()
    return [r for r in results if r is not None]


def _accumulating(write: Write) -> bool:
    return not isinstance(write, tuple) and write.table == "accumulator"


def _recorded(
    command: SettleCommand,
    found: reading.Found,
    done: Settled,
    added: reading.Sums,
    writes: list[Write],
    policy: CompiledPolicy,
) -> Reply:
    """The reply of a settled claim; its rows appended to ``writes`` (its accumulators in each
    layer's period holding its day)."""
    assert found.year is not None
    institution, setl_id = command.caller.institution_id, writing.new_id("S")
    values = {**done.values, "setl_id": setl_id}
    settled = replace(done, values=values)
    touched = {key: _plus(found.year.accumulators.get(key), sums) for key, sums in added.items()}
    reply = Reply(201, command.render(settled))
    writes += [
        *writing.settlement_writes(values=values, lines=done.lines),
        *writing.accumulator_writes(person_id=command.claim.person_id, year=_periods(command, policy), sums=touched),
        *writing.audit_writes(institution, "settle", "settlement", setl_id, claim_id=command.claim.claim_id),
    ]
    if command.submitted:
        protocol, body = command.submitted
        writes += writing.submitted_writes(setl_id=setl_id, protocol=protocol, body=body)
    if command.key:
        writes += writing.reply_writes(
            institution_id=institution, key=command.key, digest=command.digest, status=reply.status, body=reply.body
        )
    return reply


def _periods(command: SettleCommand, policy: CompiledPolicy) -> dict[str, int]:
    """Each layer's accumulation period (its starting year) holding the claim's day."""
    return {layer: period_of(command.claim.dated, starts) for layer, starts in policy.period_start_of.items()}


def _plus(before: tuple[int, int, int] | None, added: tuple[int, int, int]) -> tuple[int, int, int]:
    base, paid, claims = before or (0, 0, 0)
    return base + added[0], paid + added[1], claims + added[2]


def pre_settle_commands(
    db: Driver, commands: Sequence[SettleCommand], policy: CompiledPolicy
) -> list[Settled | Problem]:
    """试算: each claim's settlement on its person-year as it stands, nothing stored (``db``'s
    transaction is rolled back once read; an :class:`Incomplete` command is :func:`completed`
    first, in it). A person the platform may register on first sight is pre-settled without a
    relief identity, with a warning."""
    try:
        found = reading.read(db, [c.wanted for c in commands], policy.period_start_of)
    finally:
        db.rollback()
    empty = reading.PersonYear([], {}, 1, None)
    found = [
        reading.Found(f.key, empty) if f.year is None and c.register else f
        for c, f in zip(commands, found, strict=True)
    ]
    todo = [i for i, f in enumerate(found) if f.year is not None]
    results: list[Settled | Problem] = [_not_registered(c.claim.person_id) for c in commands]
    if todo:
        for i, (done, _) in zip(
            todo, _settled(_engine(commands, found, todo, policy), todo, commands, found), strict=True
        ):
            results[i] = replace(done, values={**done.values, "status": "not_stored", "seq": 0})
    return results
