"""What settling claims reads before the engine runs, for a whole batch at once.

For each claim: whether its Idempotency-Key is free and the reply stored under it, and the
person-year it settles on — registered or not, the person's identity periods, the year's
accumulators, the person's next arrival number, and the institution's settlement of the claim
if it is already settled (and not reversed).

PostgreSQL: a first statement takes the locks — each key's advisory lock (tried, never waited
for: a key another worker holds is "in flight"; the lock is on a 64-bit hash of the institution
and the whole key) and the persons' rows (``FOR UPDATE`` in ``person_id`` order, so two batches
never wait on each other in a cycle); the second, with a snapshot taken after the locks, reads
the rest, each part as one JSON array (the statement's text is the same for any number of
claims, so it is prepared once). Both go in one round trip. SQLite holds the database's write
lock from ``BEGIN IMMEDIATE``: a plain statement per part.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import repeat
from typing import Any

from api.books.driver import Driver, Read, Statement
from api.planted import planted
from settlement.periods import CALENDAR, MonthDay, calendar_only, period_of

Periods = Mapping[str, MonthDay]
"""Where a layer's accumulation period starts each year, by layer id (absent: 1 January)."""
CALENDAR_YEARS: Periods = {}
Sums = dict[tuple[str, str], tuple[int, int, int]]
"""A claim's accumulators — of each layer's period holding its day: (layer, bucket) → (base_cum,
paid_cum, claims), fen."""
Booked = tuple[int, int, int, int]
"""What a person-year's books add up to so far (fen): the person's part, 全自费, the in-policy
amount and the funds' payments — adjustments included."""
Period = tuple[str, date, date | None]
"""An identity period: category, valid_from, valid_to (None: open-ended)."""

_VALUES = {
    "p": "unnest(%(p)s::text[]) AS w(p)",
    "k": "unnest(%(ki)s::text[], %(kk)s::text[]) AS w(i, k)",
    "c": "unnest(%(ci)s::text[], %(cc)s::text[]) AS w(i, c)",
}


def _pg(table: str, where: str, values: str = "p", select: str = "*") -> str:
    """The rows of ``table`` for each wanted value, as ``r``: a lookup per value. A lateral
    subquery kept apart (``OFFSET 0``: not merged into a join), so a small table's statistics
    never make it a scan comparing every row to every value."""
    lookup = f"SELECT {select} FROM {table} WHERE {where}"  # noqa: S608
    return f"{_VALUES[values]} CROSS JOIN LATERAL ({lookup} OFFSET 0) r"


KEY_LOCK = "pg_try_advisory_xact_lock(hashtextextended(k, 0))"
"""An Idempotency-Key's advisory lock: 64 bits of a hash of ``institution\\nkey`` (the whole key)."""
_KEY_LOCKS = f"SELECT {KEY_LOCK} FROM unnest(%(locks)s::text[]) WITH ORDINALITY AS t(k, n)"  # noqa: S608
_PERSON_LOCKS = _pg("person", "person_id = w.p FOR UPDATE")  # in the order given: sorted, so never in a cycle
PG_LOCKS = Statement(
    sqlite="",  # none: SQLite's write lock is already held
    postgresql=f"SELECT ARRAY({_KEY_LOCKS} ORDER BY n), ARRAY(SELECT r.person_id FROM {_PERSON_LOCKS})",  # noqa: S608
)
PG_UNLOCKED = Statement(sqlite="", postgresql=PG_LOCKS.postgresql.replace(" FOR UPDATE", ""))
"""The locks without the persons' rows (:mod:`api.planted`: the soak's own test only)."""


_SETTLED = "kind = 'settlement' AND status = 'settled'"
_BOOKED = ("person_id, year, sum(psn_part_amt) AS psn, sum(fulamt_ownpay_amt) AS fulamt, sum(inscp_scp_amt) AS inscp, "
           "sum(fund_pay_sumamt) AS funds")  # fmt: skip
_ADJUSTED = "person_id, year, sum(delta) AS delta"
_PARTS = (  # (columns, FROM on PostgreSQL, FROM on SQLite with its IN-lists); the rows of each are read as r
    (
        "r.institution_id, r.key, r.request_hash, r.status_code, {hex}",
        _pg("idempotencyrecord", "institution_id = w.i AND key = w.k", "k"),
        "idempotencyrecord r WHERE r.institution_id IN {ki} AND r.key IN {kk}",
    ),
    ("r.person_id, r.name, r.id_number", _pg("person", "person_id = w.p"), "person r WHERE r.person_id IN {p}"),
    (
        "r.person_id, r.category, r.valid_from, r.valid_to",
        _pg("identity", "person_id = w.p AND revoked_at IS NULL"),
        "identity r WHERE r.person_id IN {p} AND r.revoked_at IS NULL",
    ),
    (
        "r.person_id, r.year, r.layer, r.bucket, r.base_cum, r.paid_cum, r.claims",
        _pg("accumulator", "person_id = w.p AND year = ANY(%(y)s::int[])"),
        "accumulator r WHERE r.person_id IN {p} AND r.year IN {y}",
    ),
    (
        "r.person_id, r.seq",
        _pg("settlement", "person_id = w.p GROUP BY person_id", select="person_id, max(seq) AS seq"),
        "(SELECT person_id, max(seq) AS seq FROM settlement WHERE person_id IN {p} GROUP BY person_id) r",
    ),
    (
        "r.person_id, r.year, r.psn, r.fulamt, r.inscp, r.funds",
        _pg("settlement", "person_id = w.p AND year = ANY(%(y)s::int[]) GROUP BY person_id, year", select=_BOOKED),
        f"(SELECT {_BOOKED} FROM settlement WHERE person_id IN {{p}} AND year IN {{y}} GROUP BY person_id, year) r",  # noqa: S608
    ),
    (
        "r.person_id, r.year, r.delta",
        _pg("adjustment", "person_id = w.p AND year = ANY(%(y)s::int[]) GROUP BY person_id, year", select=_ADJUSTED),
        f"(SELECT {_ADJUSTED} FROM adjustment WHERE person_id IN {{p}} AND year IN {{y}} GROUP BY person_id, year) r",  # noqa: S608
    ),
    (
        "r.institution_id, r.claim_id, r.setl_id",
        _pg("settlement", f"institution_id = w.i AND claim_id = w.c AND {_SETTLED}", "c"),
        f"settlement r WHERE r.institution_id IN {{ci}} AND r.claim_id IN {{cc}} AND {_SETTLED}",
    ),
)
"""Each part of the reading: stored replies of the keys, registered persons, identities,
accumulators of the years, each person's last arrival number, what the person-years' settlements
(reversals included: a reversed claim nets zero) and adjustments add up to (the burden so far, for
early warning), the institutions' claims already settled."""


def _pg_reading() -> str:
    """PostgreSQL: every part as a JSON array, in one statement (one snapshot, one round trip)."""
    parts = [
        f"(SELECT json_agg(json_build_array({columns.format(hex=HEX_BODY)})) FROM {pg})"  # noqa: S608
        for columns, pg, _ in _PARTS
    ]
    return "SELECT " + ", ".join(parts)


HEX_BODY = "encode(r.body, 'hex')"
PG_READING = Statement(sqlite="", postgresql=_pg_reading())  # SQLite: sqlite_reading()
NAMES = ("ki", "kk", "p", "y", "ci", "cc")
"""The lists a reading is of: keys (institution, key), persons, years, claims (institution, claim)."""


@lru_cache(maxsize=256)
def sqlite_reading(counts: tuple[int, ...]) -> tuple[Statement, ...]:
    """SQLite: each part a statement of its own with ``IN (:p_0, …)`` lists of these lengths
    (cheaper here than one statement of JSON arrays to run and parse)."""
    lists = {
        name: "(" + ", ".join(f":{name}_{i}" for i in range(n)) + ")" for name, n in zip(NAMES, counts, strict=True)
    }
    texts = [f"SELECT {columns.format(hex='hex(r.body)')} FROM {lite.format(**lists)}" for columns, _, lite in _PARTS]  # noqa: S608
    return tuple(Statement(sqlite=text, postgresql="") for text in texts)


@dataclass(frozen=True)
class Wanted:
    """What one claim (or, without ``person_id``, one keyed request) needs read."""

    institution_id: str
    key: str | None
    person_id: str | None = None
    day: date | None = None
    claim_id: str | None = None


@dataclass(frozen=True)
class KeyState:
    """An Idempotency-Key: ``free`` unless another transaction holds it; the reply stored under it."""

    free: bool = True
    stored: tuple[str, int, bytes] | None = None  # (request hash, status, body)


@dataclass(frozen=True)
class PersonYear:
    """What settling a claim reads of a person-year, under the person's lock."""

    identities: list[Period]  # the person's identity periods (not revoked)
    accumulators: Sums  # every stored row of the year (the policy's buckets and post-hoc programs')
    next_seq: int  # the person's next arrival number
    settled_as: str | None  # setl_id of the institution's settlement of this claim, if standing
    person: tuple[str, str] = ("", "")  # the person's name and ID number
    booked: Booked = (0, 0, 0, 0)


@dataclass(frozen=True)
class Found:
    key: KeyState
    year: PersonYear | None  # None: no person asked for, or the person is not registered


def reads(db: Driver, wanted: list[Wanted], periods: Periods = CALENDAR_YEARS) -> list[Read]:
    """The statements reading what ``wanted`` needs (see :func:`found`): the accumulators of each
    claim's year, and of the year before where a layer's period starts on another day than 1
    January (``periods``: layer id → (month, day), absent: the calendar year)."""
    days = [w.day for w in wanted if w.day]
    before = [] if calendar_only(list(periods.values())) else [d.year - 1 for d in days]
    keyed = [w for w in wanted if w.key]
    claims = [w for w in wanted if w.claim_id]
    persons = sorted({w.person_id for w in wanted if w.person_id})
    values: dict[str, list[Any]] = {
        "ki": [w.institution_id for w in keyed],
        "kk": [w.key for w in keyed],
        "p": persons,
        "y": sorted({d.year for d in days} | set(before)),
        "ci": [w.institution_id for w in claims],
        "cc": [w.claim_id for w in claims],
    }
    if not db.postgresql:
        params = {f"{name}_{i}": v for name in NAMES for i, v in enumerate(values[name])}
        return [(statement, params) for statement in sqlite_reading(tuple(len(values[n]) for n in NAMES))]
    locks = [f"{w.institution_id}\n{w.key}" for w in keyed]
    statement = PG_UNLOCKED if planted("person_lock") else PG_LOCKS
    return [(statement, {"locks": locks, "p": persons}), (PG_READING, values)]


def found(
    db: Driver, wanted: list[Wanted], rows: list[list[tuple[Any, ...]]], periods: Periods = CALENDAR_YEARS
) -> list[Found]:
    """The rows of :func:`reads`, one :class:`Found` per wanted claim, in order (its accumulators:
    those of each layer's period holding the claim's day)."""
    if db.postgresql:
        (locked,), ((*reading,),) = rows  # two statements of one row: the locks, the JSON arrays
        free: Iterator[bool] = iter(locked[0])
        parts = [list(part or []) for part in reading]
    else:
        free, parts = repeat(True), rows  # SQLite: no other transaction runs; a statement per part
    replies, persons, identities, accumulators, seqs, booked, adjusted, active = parts
    stored = {(r[0], r[1]): (str(r[2]), int(r[3]), bytes.fromhex(r[4])) for r in replies}
    registered = {r[0]: (str(r[1] or ""), str(r[2] or "")) for r in persons}
    settled = {(r[0], r[1]): str(r[2]) for r in active}
    identities_of, accumulators_of = _by_person(identities), _by_person(accumulators)
    last_seq = {r[0]: int(r[1] or 0) for r in seqs}
    books = _booked(booked, adjusted)
    out = []
    for w in wanted:
        key = KeyState(bool(next(free)), stored.get((w.institution_id, w.key))) if w.key else KeyState()
        year = None
        if w.person_id is not None and w.person_id in registered and w.day is not None:
            year = PersonYear(
                [_period(r) for r in identities_of.get(w.person_id, [])],
                _sums(accumulators_of.get(w.person_id, []), w.day, periods),
                last_seq.get(w.person_id, 0) + 1,
                settled.get((w.institution_id, str(w.claim_id))),
                registered[w.person_id],
                books.get((w.person_id, w.day.year), (0, 0, 0, 0)),
            )
        out.append(Found(key, year))
    return out


def read(db: Driver, wanted: list[Wanted], periods: Periods = CALENDAR_YEARS) -> list[Found]:
    """:func:`reads` then :func:`found`: one round trip."""
    return found(db, wanted, db.read_all(reads(db, wanted, periods)), periods)


def _booked(booked: list[list[Any]], adjusted: list[list[Any]]) -> dict[tuple[str, int], Booked]:
    """Each person-year's :data:`Booked`: its settlements' sums, each fund delta moved from the
    person's part to the funds'."""
    deltas = {(str(r[0]), int(r[1])): int(r[2] or 0) for r in adjusted}
    out = {}
    for person, year, psn, fulamt, inscp, funds in booked:
        delta = deltas.get((str(person), int(year)), 0)
        out[(str(person), int(year))] = (
            int(psn or 0) - delta,
            int(fulamt or 0),
            int(inscp or 0),
            int(funds or 0) + delta,
        )
    return out


def _by_person(rows: list[list[Any]]) -> dict[str, list[list[Any]]]:
    """A part's rows by their person (the first column)."""
    out: dict[str, list[list[Any]]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row)
    return out


def as_date(value: Any) -> date:
    """A date column's value (dates come back as YYYY-MM-DD text from SQLite and from JSON)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _period(row: list[Any]) -> Period:
    _, category, start, end = row
    return str(category), as_date(start), None if end is None else as_date(end)


def _sums(accumulators: list[list[Any]], day: date, periods: Periods) -> Sums:
    """The rows of each layer's period holding ``day`` (a post-hoc program's: its calendar year)."""
    return {
        (r[2], r[3]): (int(r[4]), int(r[5]), int(r[6]))
        for r in accumulators
        if int(r[1]) == period_of(day, periods.get(str(r[2]), CALENDAR))
    }
