"""What settling claims reads before the engine runs, for a whole batch at once.

For each claim: whether its Idempotency-Key is free and the reply stored under it, and the
person-year it settles on — registered or not, relief categories valid on its date,
accumulators, the person's next arrival number, the year's last settle_date, and whether the
institution's claim is already settled.

PostgreSQL: a first statement takes the locks — each key's advisory lock (tried, never waited
for: a key another worker holds is "in flight") and the persons' rows (``FOR UPDATE`` in
``person_id`` order, so two batches never wait on each other in a cycle); the second, with a
snapshot taken after the locks, reads the rest. Both go in one round trip. SQLite holds the
database's write lock from ``BEGIN IMMEDIATE``: one statement. Each part of the reading comes
back as one JSON array, so the statement's text is the same for any number of claims.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from itertools import repeat
from typing import Any

from api.engine import Sums
from api.sql import Driver, Read, Statement

_VALUES = {
    "p": "unnest(%(p)s::text[]) AS w(p)",
    "k": "unnest(%(ki)s::text[], %(kk)s::text[]) AS w(i, k)",
    "c": "unnest(%(ci)s::text[], %(cc)s::text[]) AS w(i, c)",
}


def _pg(table: str, where: str, values: str = "p", select: str = "*") -> str:
    """The rows of ``table`` for each wanted value, as ``r``: a lookup per value. A lateral
    subquery kept apart (``OFFSET 0``: not merged into a join), so a small table's statistics
    never make it a scan comparing every row to every value (measured: 2,000 persons, 0.9 ms)."""
    lookup = f"SELECT {select} FROM {table} WHERE {where}"  # noqa: S608
    return f"{_VALUES[values]} CROSS JOIN LATERAL ({lookup} OFFSET 0) r"


_KEY_LOCKS = "SELECT pg_try_advisory_xact_lock(hashtext(k)) FROM unnest(%(locks)s::text[]) WITH ORDINALITY AS t(k, n)"
_PERSON_LOCKS = _pg("person", "person_id = w.p FOR UPDATE")  # in the order given: sorted, so never in a cycle
_LOCKS = Statement(
    sqlite="SELECT 1",  # not run: SQLite's write lock is already held
    postgresql=f"SELECT ARRAY({_KEY_LOCKS} ORDER BY n), ARRAY(SELECT r.person_id FROM {_PERSON_LOCKS})",  # noqa: S608
)


def _in(name: str) -> str:
    return f"IN (SELECT value FROM json_each(:{name}))"  # noqa: S608  (a parameter's name)


_SETTLED = "kind = 'settlement' AND status = 'settled'"
_YEARS = f"person_id, year, max(seq) AS seq, max(CASE WHEN {_SETTLED} THEN settle_date END) AS last_date"
_PARTS = (  # (columns, FROM on PostgreSQL, FROM on SQLite); the rows of each are read as r
    (
        "r.institution_id, r.key, r.request_hash, r.status_code, {hex}",
        _pg("idempotencyrecord", "institution_id = w.i AND key = w.k", "k"),
        f"idempotencyrecord r WHERE r.institution_id {_in('ki')} AND r.key {_in('kk')}",
    ),
    ("r.person_id", _pg("person", "person_id = w.p"), f"person r WHERE r.person_id {_in('p')}"),
    (
        "r.person_id, r.category, r.valid_from, r.valid_to",
        _pg("identity", "person_id = w.p AND revoked_at IS NULL"),
        f"identity r WHERE r.person_id {_in('p')} AND r.revoked_at IS NULL",
    ),
    (
        "r.person_id, r.year, r.layer, r.bucket, r.base_cum, r.paid_cum, r.claims",
        _pg("accumulator", "person_id = w.p AND year = ANY(%(y)s::int[])"),
        f"accumulator r WHERE r.person_id {_in('p')} AND r.year {_in('y')}",
    ),
    (
        "r.person_id, r.year, r.seq, r.last_date",
        _pg("settlement", "person_id = w.p GROUP BY person_id, year", select=_YEARS),
        f"(SELECT {_YEARS} FROM settlement WHERE person_id {_in('p')} GROUP BY person_id, year) r",  # noqa: S608
    ),
    (
        "r.institution_id, r.claim_id",
        _pg("settlement", f"institution_id = w.i AND claim_id = w.c AND {_SETTLED}", "c"),
        f"settlement r WHERE r.institution_id {_in('ci')} AND r.claim_id {_in('cc')} AND {_SETTLED}",
    ),
)
"""Each part of the reading: stored replies of the keys, registered persons, identities,
accumulators of the years, each person-year's last arrival number and settle_date, the
institutions' claims already settled."""


def _reading(postgresql: bool) -> str:
    """The reading in one dialect (every name in it is written above: no value is formatted in)."""
    aggregate, row, body = ("json_agg", "json_build_array", "encode(r.body, 'hex')") if postgresql else (
        "json_group_array", "json_array", "hex(r.body)"
    )  # fmt: skip
    parts = [
        f"(SELECT {aggregate}({row}({columns.format(hex=body)})) FROM {pg if postgresql else lite})"  # noqa: S608
        for columns, pg, lite in _PARTS
    ]
    return "SELECT " + ", ".join(parts)


READING = Statement(sqlite=_reading(False), postgresql=_reading(True))


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

    categories: list[str]  # relief categories valid on the claim's date
    accumulators: Sums
    next_seq: int
    last_date: date | None  # latest settle_date of the year's active settlements
    active_claim: bool  # the institution's claim is already settled (and not reversed)


@dataclass(frozen=True)
class Found:
    key: KeyState
    year: PersonYear | None  # None: no person asked for, or the person is not registered


def reads(db: Driver, wanted: list[Wanted]) -> list[Read]:
    """The statements reading what ``wanted`` needs (see :func:`found`)."""
    keyed = [w for w in wanted if w.key]
    claims = [w for w in wanted if w.claim_id]
    persons = sorted({w.person_id for w in wanted if w.person_id})
    values: dict[str, list[Any]] = {
        "ki": [w.institution_id for w in keyed],
        "kk": [w.key for w in keyed],
        "p": persons,
        "y": sorted({w.day.year for w in wanted if w.day}),
        "ci": [w.institution_id for w in claims],
        "cc": [w.claim_id for w in claims],
    }
    if not db.postgresql:
        return [(READING, {name: json.dumps(v) for name, v in values.items()})]
    locks = [f"{w.institution_id}\n{w.key}" for w in keyed]
    return [(_LOCKS, {"locks": locks, "p": persons}), (READING, values)]


def found(db: Driver, wanted: list[Wanted], rows: list[list[tuple[Any, ...]]]) -> list[Found]:
    """The rows of :func:`reads`, one :class:`Found` per wanted claim, in order."""
    *locks, (reading,) = rows
    free = iter(locks[0][0][0]) if locks else repeat(True)  # SQLite: no other transaction runs
    replies, persons, identities, accumulators, years, active = (_parsed(part, db) for part in reading)
    stored = {(r[0], r[1]): (str(r[2]), int(r[3]), bytes.fromhex(r[4])) for r in replies}
    registered = {r[0] for r in persons}
    claims = {(r[0], r[1]) for r in active}
    out = []
    for w in wanted:
        key = KeyState(bool(next(free)), stored.get((w.institution_id, w.key))) if w.key else KeyState()
        year = None
        if w.person_id is not None and w.person_id in registered and w.day is not None:
            year = PersonYear(
                _categories(identities, w.person_id, w.day),
                _sums(accumulators, w.person_id, w.day.year),
                *_state(years, w.person_id, w.day.year),
                (w.institution_id, w.claim_id) in claims,
            )
        out.append(Found(key, year))
    return out


def read(db: Driver, wanted: list[Wanted]) -> list[Found]:
    """:func:`reads` then :func:`found`: one round trip."""
    return found(db, wanted, db.read_all(reads(db, wanted)))


def _parsed(part: Any, db: Driver) -> list[Any]:
    """One JSON array of the reading (psycopg parses JSON itself; SQLite returns text)."""
    if db.postgresql:
        return list(part or [])
    return list(json.loads(part))


def _categories(identities: list[list[Any]], person_id: str, day: date) -> list[str]:
    on = day.isoformat()  # dates come back as YYYY-MM-DD text on both backends
    return sorted(
        {c for p, c, start, end in identities if p == person_id and start <= on and (end is None or end >= on)}
    )


def _sums(accumulators: list[list[Any]], person_id: str, year: int) -> Sums:
    return {(r[2], r[3]): (int(r[4]), int(r[5]), int(r[6])) for r in accumulators if r[0] == person_id and r[1] == year}


def _state(years: list[list[Any]], person_id: str, year: int) -> tuple[int, date | None]:
    """The person's next arrival number (over all years) and the year's last active settle_date."""
    mine = [r for r in years if r[0] == person_id]
    last = next((r[3] for r in mine if r[1] == year), None)
    return max((int(r[2]) for r in mine), default=0) + 1, None if last is None else date.fromisoformat(last)
