"""The desk's acts on person-years: reversal (冲正), re-settlement, identities granted or revoked.

Each is one unit of work on a pooled transaction. Re-settling is :func:`settlement.personyear.
resettle` on the books' standing claims (arrival order) and the person's identity periods as they
now stand: per-fund adjustments against what each claim effectively received, accumulators of
the policy's buckets replaced (a post-hoc program's rows are left as they are). A reversal takes
back what its claim effectively received — the settlement and every adjustment since — so a
reversed claim nets zero in every fund, then re-settles the rest of the year.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from api.auth import Caller
from api.books import queries, reading, writing
from api.books.driver import Driver, Write
from api.claims import SETTLEMENT_MONEY, ClaimFacts, birth_date_of, claims_table
from api.desk import Settled
from api.errors import Problem
from api.idempotency import Reply, replayed
from api.planted import planted
from settlement.identities import IdentityPeriods, with_candidates
from settlement.periods import calendar_only
from settlement.personyear import resettle
from tiers.codes import PAYMENT_COLUMNS
from tiers.tables import CompiledPolicy

LINE_NEGATED = ("base", "deductible_applied", "raw_amount")


@dataclass(frozen=True)
class YearRun:
    """A person-year re-settled: the run, how many standing claims, the adjustments made
    (setl_id, output, delta fen)."""

    run_id: str
    person_id: str
    year: int
    claims: int
    reason: str
    adjustments: list[tuple[str, str, int]]


def _periods(db: Driver, person_id: str, policy: CompiledPolicy) -> IdentityPeriods:
    rows = queries.identities(db, person_id=person_id)
    return IdentityPeriods.of(
        [(person_id, r["category"], r["valid_from"], r["valid_to"]) for r in rows if r["revoked_at"] is None],
        policy.profiles.categories,
    )


def resettle_years(
    db: Driver, *, actor: str, person_id: str, years: list[int], policy: CompiledPolicy, reason: str
) -> list[YearRun]:
    """Re-settle the person's ``years`` (see the module's text); the writes run in ``db``. Where a
    layer's accumulation period is not the calendar year, periods chain the years together: the
    person's whole history is re-settled in one run."""
    periods = _periods(db, person_id, policy)
    person = (queries.person(db, person_id=person_id) or {}) if policy.policy.age_bands else {}  # 身份证号 → age
    birth = birth_date_of(str(person.get("id_number") or ""))
    return [
        _resettle(db, actor, person_id, group, policy, reason, periods, birth)
        for group in _groups(db, person_id, years, policy)
    ]


def _groups(db: Driver, person_id: str, years: list[int], policy: CompiledPolicy) -> list[list[int]]:
    """The calendar years re-settled together: each alone, or every year of the person at once."""
    if calendar_only(policy.period_starts):
        return [[year] for year in years]
    every = sorted({*years, *queries.years_settled(db, person_id=person_id, start=date.min, end=None)})
    return [every] if every else []


def _resettle(db: Driver, actor: str, person_id: str, group: list[int], policy: CompiledPolicy, reason: str,
              periods: IdentityPeriods, birth: date | None) -> YearRun:  # fmt: skip
    buckets, settles_as = set(policy.stack.buckets), policy.settles_as
    standing = [row for year in group for row in queries.standing(db, person_id=person_id, year=year)]
    adjusted = {k: v for year in group for k, v in queries.adjusted(db, person_id=person_id, year=year).items()}
    own = {(f.setl_id, f.output): f.paid for year in group
           for f in queries.own_funds_paid(db, "person_year", p=person_id, y=year)}  # fmt: skip
    facts = [ClaimFacts.of_row({**row, "claim_id": row["setl_id"]}, policy.policy.dated_by) for row in standing]
    births = [birth] * len(facts) if policy.policy.age_bands else None
    table = with_candidates(claims_table(facts, settles_as, [row["seq"] for row in standing], births), periods)
    paid = {
        o: np.array([_stated(r, o, own) + adjusted.get((r["setl_id"], o), 0) for r in standing], np.int64)
        for o in policy.outputs
    }
    result = resettle(table, paid, policy)
    run_id = writing.new_id("A")
    notes = _notes(standing, [policy.profiles.categories[c] for c in result.category.tolist()], reason)
    made = list(zip(*(result.adjustments[c].tolist() for c in ("claim_id", "output", "delta")), strict=True))
    year_of = {row["setl_id"]: int(row["year"]) for row in standing}
    writes: list[Write] = [
        *writing.adjustment_writes(
            run_id=run_id, rows=[(s, person_id, year_of[s], o, d, notes[s]) for s, o, d in made]
        ),
        *_accumulator_writes(db, person_id, group, result.closing(), buckets, policy),
        *writing.audit_writes(actor, "resettle", "person_year", person_id, year=group[0], run_id=run_id, reason=reason),
    ]
    db.run_all(writes)
    return YearRun(run_id, person_id, group[0], len(standing), reason, made)


def _accumulator_writes(db: Driver, person_id: str, group: list[int], closing: Any, buckets: set[tuple[str, str]],
                        policy: CompiledPolicy) -> list[Write]:  # fmt: skip
    """The re-settled periods' accumulators in place of the stored ones (a bucket no standing claim
    uses any more: zero). With calendar years only, the group's one year; else every period."""
    years = group if calendar_only(policy.period_starts) else queries.accumulator_years(db, person_id=person_id)
    sums = {(year, *key): (0, 0, 0) for year in years
            for key in queries.accumulators(db, person_id=person_id, year=year) if key in buckets}  # fmt: skip
    sums |= _sums(closing)
    by_year: dict[int, reading.Sums] = {}
    for (year, layer, bucket), value in sums.items():
        by_year.setdefault(year, {})[(layer, bucket)] = value
    return [w for year, part in sorted(by_year.items()) for w in
            writing.accumulator_writes(person_id=person_id, year=year, sums=part)]  # fmt: skip


def _stated(row: dict[str, Any], output: str, own: dict[tuple[str, str], int]) -> int:
    """What a settlement row says a fund paid: its column, or for a region's own fund its line."""
    return int(row[output]) if output in PAYMENT_COLUMNS else own.get((row["setl_id"], output), 0)


def _sums(closing: Any) -> dict[tuple[int, str, str], tuple[int, int, int]]:
    columns = (closing[c].tolist() for c in ("year", "layer", "bucket", "base_cum", "paid_cum", "claims"))
    return {(int(yr), la, b): (int(x), int(y), int(z)) for yr, la, b, x, y, z in zip(*columns, strict=True)}


def _notes(standing: list[dict[str, Any]], now: list[str], reason: str) -> dict[str, str]:
    """Each settlement's adjustment reason: the run's, and its change of category if any."""
    return {
        row["setl_id"]: reason if row["category"] == category else f"{reason}; category {row['category']} → {category}"
        for row, category in zip(standing, now, strict=True)
    }


@dataclass(frozen=True)
class ReverseCommand:
    """A reversal: of which settlement, by whom, its key, and how its reply is rendered."""

    caller: Caller
    setl_id: str
    render: Callable[[Settled], bytes]
    key: str | None = None
    digest: str = ""


def _original(db: Driver, command: ReverseCommand) -> dict[str, Any]:
    original = queries.settlement(db, setl_id=command.setl_id)
    caller = command.caller
    if original is None or not caller.may_read(original["institution_id"]):
        raise Problem(404, "settlement_not_found", f"no settlement {command.setl_id}", "setl_id")
    if original["institution_id"] != caller.institution_id and "admin" not in caller.scopes:
        raise Problem(403, "not_your_settlement", "only the institution that settled a claim may reverse it")
    queries.person(db, person_id=original["person_id"], lock=True)
    locked = queries.settlement(db, setl_id=command.setl_id)
    assert locked is not None
    if locked["kind"] != "settlement" or locked["status"] != "settled":
        detail = f"settlement {command.setl_id} is already reversed or is a reversal"
        raise Problem(409, "already_reversed", detail, "setl_id", reversed_by=locked["reversed_by"])
    return locked


def _reversal(db: Driver, original: dict[str, Any], seq: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The reversal row and lines: the claim's amounts negated, each fund's what it effectively paid."""
    adjusted = queries.adjusted(db, person_id=original["person_id"], year=original["year"])
    stored = queries.lines(db, setl_id=original["setl_id"])
    own = {(original["setl_id"], line["output"]): int(line["paid"]) for line in stored}
    outputs = (*PAYMENT_COLUMNS, *(o for _, o in own if o not in PAYMENT_COLUMNS))
    effective = {o: _stated(original, o, own) + adjusted.get((original["setl_id"], o), 0) for o in outputs}
    funds = sum(effective.values())
    values = {**original, **{m: -int(original[m]) for m in SETTLEMENT_MONEY}}
    values.update({o: -effective[o] for o in PAYMENT_COLUMNS})
    values.update(fund_pay_sumamt=-funds, psn_part_amt=-(int(original["medfee_sumamt"]) - funds))
    values.update(setl_id=writing.new_id("R"), kind="reversal", reverses=original["setl_id"], seq=seq,
                  status="settled", reversed_by=None, created_at=writing.now())  # fmt: skip
    lines = [
        {**line, **{f: -int(line[f]) for f in LINE_NEGATED}, "paid": -effective.get(line["output"], 0),
         "cap": -1, "cap_left": -1, "claim_cap": -1}
        for line in stored
    ]  # fmt: skip
    return values, lines


def _reversed(
    db: Driver, command: ReverseCommand, policy: CompiledPolicy
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[YearRun]]:
    """The reversal written and the rest of the year re-settled (not committed): the original,
    the reversal's row and lines, and the re-settlement."""
    original = _original(db, command)
    values, lines = _reversal(db, original, queries.next_seq(db, person_id=original["person_id"]))
    db.run_all(
        [
            *writing.settlement_writes(values=values, lines=lines),
            writing.reversed_write(setl_id=original["setl_id"], reversal_id=values["setl_id"]),
        ]
    )
    runs = []
    if not planted("reversal_adjustments"):
        reason = f"reversal of {original['setl_id']}"
        runs = resettle_years(db, actor=command.caller.institution_id, person_id=original["person_id"],
                              years=[original["year"]], policy=policy, reason=reason)  # fmt: skip
    return original, values, lines, runs


def preview_reversal(
    db: Driver, command: ReverseCommand, policy: CompiledPolicy
) -> tuple[dict[str, Any], list[YearRun]]:
    """A dry run of :func:`reverse`: the reversal's row and what the rest of the year's
    re-settlement would adjust; nothing is kept (rolled back)."""
    _, values, _, runs = _reversed(db, command, policy)
    db.rollback()
    return values, runs


def reverse(db: Driver, command: ReverseCommand, policy: CompiledPolicy) -> Reply:
    """冲正: reverse a standing settlement and re-settle the rest of its person-year; committed."""
    if command.key:
        (found,) = reading.read(db, [reading.Wanted(command.caller.institution_id, command.key)])
        replay = replayed(found.key, command.digest)
        if replay is not None:
            db.rollback()
            return replay
    original, values, lines, _ = _reversed(db, command, policy)
    actor = command.caller.institution_id
    reply = Reply(201, command.render(Settled(values, lines)))
    writes = writing.audit_writes(actor, "reverse", "settlement", original["setl_id"], reversal=values["setl_id"])
    if command.key:
        writes += writing.reply_writes(institution_id=actor, key=command.key, digest=command.digest,
                                       status=reply.status, body=reply.body)  # fmt: skip
    db.commit(writes)
    return reply
