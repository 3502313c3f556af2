"""What the books read outside a batch's reading: a settlement with its lines and adjustments, a
person-year's standing claims, identities, accumulators, a person — one statement each, on the
caller's transaction, rows as plain dicts (money in fen)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlmodel import SQLModel

from api.books.driver import Driver, Statement
from api.books.reading import Sums, as_date
from tiers.codes import CLAIM_FLAGS, PAYMENT_COLUMNS


@lru_cache(maxsize=16)
def columns(table: str) -> tuple[str, ...]:
    """A table's columns, as the models define them."""
    return tuple(SQLModel.metadata.tables[table].c.keys())


def _select(table: str, where: str, order: str = "") -> Statement:
    text = f"SELECT {', '.join(columns(table))} FROM {table} WHERE {where}"  # noqa: S608  (names from the models)
    return Statement.of(text + (f" ORDER BY {order}" if order else ""))


_SETTLEMENT = _select("settlement", "setl_id = :s")
_STANDING = _select("settlement", "person_id = :p AND year = :y AND kind = 'settlement' AND status = 'settled'", "seq")
_LINES = _select("settlementline", "setl_id = :s", "id")
_ADJUSTMENTS = _select("adjustment", "setl_id = :s", "id")
_ADJUSTED = Statement.of(
    "SELECT a.setl_id, a.output, sum(a.delta) FROM adjustment a JOIN settlement s ON s.setl_id = a.setl_id "
    "WHERE s.person_id = :p AND s.year = :y GROUP BY a.setl_id, a.output"
)
_ACCUMULATORS = Statement.of(
    "SELECT layer, bucket, base_cum, paid_cum, claims FROM accumulator WHERE person_id = :p AND year = :y"
)
_IDENTITIES = _select("identity", "person_id = :p", "id")
_PERSONS_BY_ID_NUMBER = _select("person", "id_number = :n", "person_id")
_SUBMITTED = Statement.of("SELECT body FROM submitteddocument WHERE setl_id = :s")
_REPLY = Statement.of("SELECT request_hash, body FROM idempotencyrecord WHERE institution_id = :i AND key = :k")
_PERSON = _select("person", "person_id = :p")
_PERSON_LOCKED = Statement(sqlite=_PERSON.sqlite, postgresql=_PERSON.postgresql + " FOR UPDATE")
_NEXT_SEQ = Statement.of("SELECT coalesce(max(seq), 0) + 1 FROM settlement WHERE person_id = :p")
_ACCUMULATOR_YEARS = Statement.of("SELECT DISTINCT year FROM accumulator WHERE person_id = :p")
_YEARS = Statement.of(
    "SELECT DISTINCT year FROM settlement WHERE person_id = :p AND kind = 'settlement' AND status = 'settled' "
    "AND settle_date >= :a AND settle_date <= :b"
)


def _typed(table: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row as a dict, dates as dates and flags as booleans whatever the backend returned."""
    values = dict(zip(columns(table), row, strict=True))
    for name in ("settle_date", "admission_date", "valid_from", "valid_to"):
        if values.get(name) is not None:
            values[name] = as_date(values[name])
    for flag in ("accident", *CLAIM_FLAGS):
        if flag in values:
            values[flag] = bool(values[flag])
    return values


def settlement(db: Driver, *, setl_id: str) -> dict[str, Any] | None:
    rows = db.rows(_SETTLEMENT, {"s": setl_id})
    return _typed("settlement", rows[0]) if rows else None


def lines(db: Driver, *, setl_id: str) -> list[dict[str, Any]]:
    return [_typed("settlementline", row) for row in db.rows(_LINES, {"s": setl_id})]


def submitted(db: Driver, *, setl_id: str) -> bytes | None:
    """The document its client submitted with a settlement (a FHIR Claim), as it came; None if none was kept."""
    rows = db.rows(_SUBMITTED, {"s": setl_id})
    return bytes(rows[0][0]) if rows else None


def adjustments(db: Driver, *, setl_id: str) -> list[dict[str, Any]]:
    return [_typed("adjustment", row) for row in db.rows(_ADJUSTMENTS, {"s": setl_id})]


def standing(db: Driver, *, person_id: str, year: int) -> list[dict[str, Any]]:
    """The person-year's settlements not reversed, in arrival order."""
    return [_typed("settlement", row) for row in db.rows(_STANDING, {"p": person_id, "y": year})]


def adjusted(db: Driver, *, person_id: str, year: int) -> dict[tuple[str, str], int]:
    """Σ adjustments of the person-year's settlements: (setl_id, output) → fen."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for setl_id, output, delta in db.rows(_ADJUSTED, {"p": person_id, "y": year}):
        totals[(str(setl_id), str(output))] += int(delta)
    return dict(totals)


def accumulators(db: Driver, *, person_id: str, year: int) -> Sums:
    rows = db.rows(_ACCUMULATORS, {"p": person_id, "y": year})
    return {(str(r[0]), str(r[1])): (int(r[2]), int(r[3]), int(r[4])) for r in rows}


def identities(db: Driver, *, person_id: str) -> list[dict[str, Any]]:
    """Every identity of the person, revoked ones included (``revoked_at`` set), in the order given."""
    return [_typed("identity", row) for row in db.rows(_IDENTITIES, {"p": person_id})]


def person(db: Driver, *, person_id: str, lock: bool = False) -> dict[str, Any] | None:
    """A registered person (None if not); ``lock``: its row is locked for the transaction
    (PostgreSQL; SQLite's writer holds the database's lock)."""
    rows = db.rows(_PERSON_LOCKED if lock else _PERSON, {"p": person_id})
    return _typed("person", rows[0]) if rows else None


def persons_by_id_number(db: Driver, *, id_number: str) -> list[dict[str, Any]]:
    """The registered persons with this 身份证号 (one, unless registered twice)."""
    return [_typed("person", row) for row in db.rows(_PERSONS_BY_ID_NUMBER, {"n": id_number})]


def stored_reply(db: Driver, *, institution_id: str, key: str) -> tuple[str, bytes] | None:
    """The request hash and reply body stored under an institution's idempotency key, if any."""
    rows = db.rows(_REPLY, {"i": institution_id, "k": key})
    return (str(rows[0][0]), bytes(rows[0][1])) if rows else None


def next_seq(db: Driver, *, person_id: str) -> int:
    """The person's next arrival number."""
    return int(db.rows(_NEXT_SEQ, {"p": person_id})[0][0])


def accumulator_years(db: Driver, *, person_id: str) -> list[int]:
    """The years (accumulation periods) the person has accumulator rows in."""
    return sorted(int(r[0]) for r in db.rows(_ACCUMULATOR_YEARS, {"p": person_id}))


def years_settled(db: Driver, *, person_id: str, start: date, end: date | None) -> list[int]:
    """The years with a standing settlement of the person dated within [start, end]."""
    rows = db.rows(_YEARS, {"p": person_id, "a": start, "b": end or date(9999, 12, 31)})
    return sorted(int(r[0]) for r in rows)


_OUTPUTS = PAYMENT_COLUMNS
_STANDARD = ", ".join(f"'{o}'" for o in _OUTPUTS)
_OWN_SCOPES = {
    "all": "1 = 1",
    "year": "s.year = :y",
    "person_year": "s.person_id = :p AND s.year = :y",
    "period": "s.settle_date >= :a AND s.settle_date <= :b",
}
_OWN_PAID = {
    scope: Statement.of(
        "SELECT l.setl_id, COALESCE(s.reverses, s.setl_id), s.person_id, s.year, l.output, sum(l.paid) "  # noqa: S608
        f"FROM settlementline l JOIN settlement s ON s.setl_id = l.setl_id WHERE {where} "  # (constants)
        f"AND l.output NOT IN ({_STANDARD}) GROUP BY l.setl_id, COALESCE(s.reverses, s.setl_id), s.person_id, s.year, "
        "l.output"
    )
    for scope, where in _OWN_SCOPES.items()
}


@dataclass(frozen=True)
class OwnFundPaid:
    """What one of a region's own funds paid on one settlement (or reversal) row, as settled."""

    setl_id: str
    claim: str  # the settlement's id (a reversal's: the settlement it reverses)
    person_id: str
    year: int
    output: str
    paid: int


def own_funds_paid(db: Driver, scope: str, **params: Any) -> list[OwnFundPaid]:
    """What a region's own funds (layers beyond the standard four: their payments are their
    settlement lines) paid on the rows of a ``scope`` (``all``; ``year`` y; ``person_year`` p, y;
    ``period`` a, b), adjustments apart."""
    rows = db.rows(_OWN_PAID[scope], params)
    return [OwnFundPaid(str(s), str(c), str(p), int(y), str(o), int(v or 0)) for s, c, p, y, o, v in rows]


_YEAR_SUMS = ", ".join(f"sum({o})" for o in _OUTPUTS)


@lru_cache(maxsize=64)
def _year_statements(counted: tuple[tuple[str, bool], ...]) -> tuple[Statement, Statement, Statement]:
    """The year's per-person sums, adjustments and held categories over the settlements whose claim
    attributes are ``counted`` (flag, value) — all of them when empty."""
    where = "".join(f" AND s.{flag} = :{flag}" for flag, _ in counted)
    settled = Statement.of(
        f"SELECT s.person_id, sum(s.inscp_scp_amt), sum(s.preselfpay_amt), sum(s.overlmt_selfpay), "  # noqa: S608
        f"{', '.join(f'sum(s.{o})' for o in _OUTPUTS)} FROM settlement s WHERE s.year = :y{where} GROUP BY s.person_id"
    )
    adjusted = Statement.of(
        "SELECT a.person_id, a.output, sum(a.delta) FROM adjustment a JOIN settlement s ON s.setl_id = a.setl_id "  # noqa: S608
        f"WHERE a.year = :y{where} GROUP BY a.person_id, a.output"
    )
    held = Statement.of(
        "SELECT s.person_id, s.seq, s.category, s.setl_id FROM settlement s WHERE s.year = :y "  # noqa: S608
        f"AND s.kind = 'settlement' AND s.status = 'settled'{where}"
    )
    return settled, adjusted, held


_YEAR_CATEGORIES = _year_statements(())[2]
_YEAR_CLAIMS = Statement.of(
    f"SELECT COALESCE(reverses, setl_id), person_id, category, sum(inscp_scp_amt), {_YEAR_SUMS} "  # noqa: S608
    "FROM settlement WHERE year = :y GROUP BY COALESCE(reverses, setl_id), person_id, category"
)
_YEAR_CLAIM_ADJUSTED = Statement.of(
    "SELECT setl_id, output, sum(delta) FROM adjustment WHERE year = :y GROUP BY setl_id, output"
)
PROGRAMS = "(programs)"
"""The idempotency records' institution under which each year's run of a program is recorded."""
_RAN = Statement.of("SELECT key FROM idempotencyrecord WHERE institution_id = :i AND key = :k")
_INSURED = Statement.of(
    "SELECT DISTINCT person_id, category FROM identity WHERE revoked_at IS NULL AND valid_from <= :last "
    "AND (valid_to IS NULL OR valid_to >= :first)"
)
_STANDING_OF_CLAIM = Statement.of(
    "SELECT setl_id FROM settlement WHERE institution_id = :i AND claim_id = :c AND kind = 'settlement' "
    "AND status = 'settled'"
)


def year_books(db: Driver, *, year: int, counted: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """Per person with settlements in ``year``: the net in-policy amount, 先行自付 and 超限价 and each
    fund's net payments (settlements, reversals and adjustments; fen), and the category of the
    latest standing claim — of the claims whose attributes are ``counted`` (e.g. ``{"referral":
    True}``; all by default)."""
    flags = tuple(sorted((counted or {}).items()))
    settled, adjusted, held = _year_statements(flags)
    params = {"y": year, **dict(flags)}
    standing = db.rows(held, params)
    counted_ids = {str(r[3]) for r in standing} if flags else None
    books: dict[str, dict[str, Any]] = {
        str(r[0]): {
            "person_id": str(r[0]),
            "inscp_scp_amt": int(r[1] or 0),
            "preselfpay_amt": int(r[2] or 0),
            "overlmt_selfpay": int(r[3] or 0),
            **{o: int(v or 0) for o, v in zip(_OUTPUTS, r[4:], strict=True)},
        }
        for r in db.rows(settled, params)
    }
    own = [
        (f.person_id, f.output, f.paid)
        for f in own_funds_paid(db, "year", y=year)
        if counted_ids is None or f.claim in counted_ids
    ]
    for person, output, delta in [*own, *db.rows(adjusted, params)]:
        books[str(person)].setdefault(str(output), 0)
        books[str(person)][str(output)] += int(delta or 0)
    latest: dict[str, tuple[int, str]] = {}
    for person, seq, category, _ in standing:
        if str(person) not in latest or int(seq) > latest[str(person)][0]:
            latest[str(person)] = (int(seq), str(category))
    for person, row in books.items():
        row["category"] = latest.get(person, (0, "general"))[1]
    return [books[p] for p in sorted(books)]


def year_claims(db: Driver, *, year: int) -> list[dict[str, Any]]:
    """Per claim of ``year`` (its settlement with its reversal, if any): person, category, net
    in-policy amount and each fund's effective payments (settlement, reversal and adjustments; fen)."""
    claims: dict[str, dict[str, Any]] = {
        str(r[0]): {
            "person_id": str(r[1]),
            "category": str(r[2]),
            "inscp_scp_amt": int(r[3] or 0),
            **{o: int(v or 0) for o, v in zip(_OUTPUTS, r[4:], strict=True)},
        }
        for r in db.rows(_YEAR_CLAIMS, {"y": year})
    }
    own = [(f.claim, f.output, f.paid) for f in own_funds_paid(db, "year", y=year)]
    for setl_id, output, delta in [*own, *db.rows(_YEAR_CLAIM_ADJUSTED, {"y": year})]:
        claims[str(setl_id)].setdefault(str(output), 0)
        claims[str(setl_id)][str(output)] += int(delta or 0)
    return [claims[c] for c in sorted(claims)]


def year_categories(db: Driver, *, year: int) -> list[tuple[str, str]]:
    """(person, category) of every standing settlement of ``year``: the categories a person held
    when their claims of the year were settled."""
    return sorted({(str(p), str(c)) for p, _, c, _ in db.rows(_YEAR_CATEGORIES, {"y": year})})


def program_ran(db: Driver, *, program: str, year: int) -> bool:
    """Whether a post-hoc program (or the second payout) has been run for ``year`` (whether or not
    it paid anybody: :func:`api.books.writing.run_writes`)."""
    return bool(db.rows(_RAN, {"i": PROGRAMS, "k": f"{program}/{year}"}))


def identities_during(db: Driver, *, year: int) -> list[tuple[str, str]]:
    """(person, category) of identities valid at some time in ``year`` (not revoked)."""
    rows = db.rows(_INSURED, {"first": date(year, 1, 1), "last": date(year, 12, 31)})
    return [(str(p), str(c)) for p, c in rows]


def standing_of_claim(db: Driver, *, institution_id: str, claim_id: str) -> str | None:
    """The setl_id of an institution's standing settlement of a claim, if any."""
    rows = db.rows(_STANDING_OF_CLAIM, {"i": institution_id, "c": claim_id})
    return str(rows[0][0]) if rows else None


_LEDGER_COLUMNS = ", ".join(
    ("setl_id", "kind", "status", "claim_id", "institution_id", "person_id", "year", "seq", *_OUTPUTS)
)
_LEDGER = Statement.of(f"SELECT {_LEDGER_COLUMNS} FROM settlement ORDER BY person_id, seq")  # noqa: S608  (model names)
_ALL_ADJUSTED = Statement.of("SELECT setl_id, output, sum(delta) FROM adjustment GROUP BY setl_id, output")
_SIZES = Statement.of(
    "SELECT (SELECT count(*) FROM settlement), (SELECT count(*) FROM adjustment), (SELECT count(*) FROM identity), "
    "(SELECT count(*) FROM person), (SELECT coalesce(sum(paid_cum), 0) FROM accumulator), "
    "(SELECT count(*) FROM idempotencyrecord), (SELECT count(*) FROM posthocpayment)"
)


def ledger(db: Driver) -> list[dict[str, Any]]:
    """Every settlement and reversal with what each fund effectively paid for it (its own amounts
    plus every adjustment; fen) — what an auditor of the books reads."""
    adjusted: dict[tuple[str, str], int] = defaultdict(int)
    for setl_id, output, delta in db.rows(_ALL_ADJUSTED, {}):
        adjusted[(str(setl_id), str(output))] += int(delta)
    own = own_funds_paid(db, "all")
    outputs = (*_OUTPUTS, *dict.fromkeys(f.output for f in own))
    paid = {(f.setl_id, f.output): f.paid for f in own}
    names = ("setl_id", "kind", "status", "claim_id", "institution_id", "person_id", "year", "seq", *_OUTPUTS)
    out = []
    for row in db.rows(_LEDGER, {}):
        entry = dict(zip(names, row, strict=True))
        setl_id = str(entry["setl_id"])
        for output in outputs:
            entry[output] = int(entry.get(output, paid.get((setl_id, output), 0))) + adjusted.get((setl_id, output), 0)
        out.append(entry)
    return out


def sizes(db: Driver) -> tuple[int, ...]:
    """How much the books hold: settlements, adjustments, identities, persons, Σ accumulated payments
    (fen), idempotency records, post-hoc payments — unchanged by a refused request."""
    return tuple(int(v) for v in db.rows(_SIZES, {})[0])
