"""Reading and writing the service's rows; every function runs inside the caller's transaction.

Locking: on PostgreSQL the person row is locked (``SELECT … FOR UPDATE``) before accumulators
are read, so two settlements of one person are serialized while other persons go in parallel;
on SQLite every write transaction holds the database's write lock from its first statement
(``BEGIN IMMEDIATE``, :mod:`api.db`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json
from sqlmodel import Session, col, select

from api.engine import ClaimFacts, Key, Outcome, Sums
from api.errors import Problem
from api.models import (
    Adjustment,
    Settlement,
    SettlementLine,
    now,
)
from api.schemas import AdjustmentOut, LineOut, SettlementOut
from api.sql import Driver, Rows, Statement, Write, driver, inserts

__all__ = ["AdjustmentOut", "Key"]
from settlement.claims import AMOUNT_COLUMNS
from settlement.engine import OUTPUT_MONEY
from settlement.explain import EXPLAIN_COLUMNS
from settlement.money import yuan_text


def new_id(prefix: str) -> str:
    """``prefix`` + 24 hex digits: the time in µs, then random. Ids made later sort later, so a
    new settlement and its lines go to the right-hand end of their indexes (a page or two per
    commit) instead of a random place in them."""
    return f"{prefix}{time.time_ns() // 1000:013X}{secrets.randbits(44):011X}"


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


# Statements of the flows that read one person at a time (see :mod:`api.sql`); a batch of
# settlements reads through :mod:`api.reads`.
_PERSON = Statement.of("SELECT person_id FROM person WHERE person_id = :p")
_PERSON_LOCKED = Statement.of("SELECT person_id FROM person WHERE person_id = :p FOR UPDATE")
_CATEGORIES = Statement.of(
    "SELECT category FROM identity WHERE person_id = :p AND revoked_at IS NULL AND valid_from <= :d "
    "AND (valid_to IS NULL OR valid_to >= :d)"
)
_ACCUMULATORS = Statement.of(
    "SELECT layer, bucket, base_cum, paid_cum, claims FROM accumulator WHERE person_id = :p AND year = :y"
)
_PERSON_STATE = Statement.of(
    "SELECT max(seq), max(CASE WHEN kind = 'settlement' AND status = 'settled' AND year = :y THEN settle_date END) "
    "FROM settlement WHERE person_id = :p"
)


def lock_person(session: Session, person_id: str) -> None:
    """Lock the person for this transaction (PostgreSQL; SQLite holds the write lock); 404 when not registered."""
    db = driver(session)
    if not db.rows(_person_lock(db), {"p": person_id}):
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")


def _person_lock(db: Driver) -> Statement:
    """The person's row, locked for the transaction on PostgreSQL (SQLite holds the write lock)."""
    return _PERSON_LOCKED if db.postgresql else _PERSON


def categories_on(session: Session, person_id: str, day: date) -> list[str]:
    """Relief categories of the person's identities valid on ``day`` (not revoked)."""
    return _categories(driver(session).rows(_CATEGORIES, {"p": person_id, "d": day}))


def accumulator_rows(session: Session, person_id: str, year: int) -> Sums:
    """A person-year's accumulators: (layer, bucket) → (base_cum, paid_cum, claims), fen."""
    return _accumulators(driver(session).rows(_ACCUMULATORS, {"p": person_id, "y": year}))


def person_state(session: Session, person_id: str, year: int) -> tuple[int, date | None]:
    """The person's next arrival number, and the latest settle_date of their active settlements in ``year``."""
    return _state(driver(session).rows(_PERSON_STATE, {"p": person_id, "y": year}))


def _categories(rows: list[tuple[Any, ...]]) -> list[str]:
    return sorted({str(row[0]) for row in rows})


def _accumulators(rows: list[tuple[Any, ...]]) -> Sums:
    return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4])) for r in rows}


def _state(rows: list[tuple[Any, ...]]) -> tuple[int, date | None]:
    last_seq, last_date = rows[0]
    if isinstance(last_date, str):
        last_date = date.fromisoformat(last_date)
    return int(last_seq or 0) + 1, last_date


def plus(rows: Sums, delta: Sums) -> Sums:
    """Accumulators after a claim: ``rows`` plus what the claim added."""
    out = dict(rows)
    for key, (base, paid, claims) in delta.items():
        b0, p0, c0 = out.get(key, (0, 0, 0))
        out[key] = (b0 + base, p0 + paid, c0 + claims)
    return out


def write_accumulators(session: Session, person_id: str, year: int, stored: set[Key], new: Sums) -> None:
    """Make the stored accumulators of a person-year equal ``new`` (rows updated, added or zeroed)."""
    driver(session).run_all(accumulator_writes(person_id, year, stored, new))


def accumulator_writes(person_id: str, year: int, stored: set[Key], new: Sums) -> list[Write]:
    """:func:`write_accumulators` as statements: one upsert of every row touched."""
    rows = [
        {"person_id": person_id, "year": year, "layer": key[0], "bucket": key[1], **dict(zip(_SUMS, sums, strict=True))}
        for key in sorted(stored | set(new))
        for sums in [new.get(key, (0, 0, 0))]
    ]
    return inserts("accumulator", rows, upsert_on=("person_id", "year", "layer", "bucket"))


_SUMS = ("base_cum", "paid_cum", "claims")


def active_settlements(session: Session, person_id: str, year: int) -> list[Settlement]:
    """The person-year's settlements not reversed, in arrival order."""
    return list(
        session.exec(
            select(Settlement)
            .where(Settlement.person_id == person_id, Settlement.year == year)
            .where(Settlement.kind == "settlement", Settlement.status == "settled")
            .order_by(col(Settlement.seq))
        )
    )


def reply_writes(institution_id: str, key: str, digest: str, status: int, body: bytes) -> list[Write]:
    """The record of a reply under its Idempotency-Key, as statements."""
    values = {"institution_id": institution_id, "key": key, "request_hash": digest, "status_code": status, "body": body}
    return inserts("idempotencyrecord", [{**values, "created_at": now()}])


def next_seq(session: Session, person_id: str) -> int:
    return person_state(session, person_id, 0)[0]


def settlement_values(
    facts: ClaimFacts, outcome: Outcome, institution_id: str, policy_id: str, seq: int, setl_id: str
) -> dict[str, Any]:
    """A settlement row's columns (amounts in fen)."""
    return {
        "setl_id": setl_id,
        "seq": seq,
        "kind": "settlement",
        "reverses": None,
        "status": "settled",
        "reversed_by": None,
        "claim_id": facts.claim_id,
        "institution_id": institution_id,
        "person_id": facts.person_id,
        "year": facts.settle_date.year,
        "settle_date": facts.settle_date,
        "med_type": str(facts.med_type),
        "hospital_level": facts.hospital_level,
        "diagnosis": facts.diagnosis,
        "accident": facts.accident,
        "category": outcome.category,
        "policy_id": policy_id,
        "request_hash": "",
        "medfee_sumamt": facts.medfee_sumamt,
        "fulamt_ownpay_amt": facts.fulamt_ownpay_amt,
        "overlmt_selfpay": facts.overlmt_selfpay,
        "preselfpay_amt": facts.preselfpay_amt,
        **outcome.amounts,
        "created_at": now(),
    }


def settlement_writes(values: dict[str, Any], lines: list[dict[str, Any]]) -> list[Write]:
    """A settlement row and its lines, as statements."""
    setl_id = values["setl_id"]
    rows = [(setl_id, *[line[f] for f in LINE_FIELDS]) for line in lines]
    return [*inserts("settlement", [values]), Rows("settlementline", ("setl_id", *LINE_FIELDS), rows)]


LINE_FIELDS = ("fund_pay_type", *(c for c in EXPLAIN_COLUMNS if c not in ("claim_id", "person_id", "policy")))
"""The columns of a settlement line: the explanation of one layer, and the fund's code."""


def lines_of(session: Session, setl_id: str) -> list[SettlementLine]:
    return list(
        session.exec(select(SettlementLine).where(SettlementLine.setl_id == setl_id).order_by(col(SettlementLine.id)))
    )


def adjustments_of(session: Session, setl_id: str) -> list[Adjustment]:
    return list(session.exec(select(Adjustment).where(Adjustment.setl_id == setl_id).order_by(col(Adjustment.id))))


LINE_MONEY = ("base", "deductible", "deductible_applied", "raw_amount", "cap_used_before", "paid")
LINE_CAPS = ("cap", "cap_left")  # -1 stored: no cap (null)
LINE_TEXTS = ("layer", "output", "fund_pay_type", "rule", "bucket", "version", "bands")


def _line_values(line: SettlementLine | dict[str, Any], money: Callable[[int], Any]) -> dict[str, Any]:
    get = line if isinstance(line, dict) else line.model_dump()
    values: dict[str, Any] = {f: str(get[f]) for f in LINE_TEXTS}
    values.update({f: money(int(get[f])) for f in LINE_MONEY})
    values.update({f: (None if int(get[f]) < 0 else money(int(get[f]))) for f in LINE_CAPS})
    return values


def line_out(line: SettlementLine | dict[str, Any]) -> LineOut:
    return LineOut.model_construct(**_line_values(line, yuan))  # our own values: no validation to pay for


SETTLEMENT_MONEY = (*AMOUNT_COLUMNS, *OUTPUT_MONEY)


def _settlement_values(values: dict[str, Any], money: Callable[[int], Any]) -> dict[str, Any]:
    kind = values["kind"] if values["setl_id"] else "pre_settlement"
    fields = ("reverses", "claim_id", "person_id", "institution_id", "category", "policy_id", "settle_date")
    return {
        "setl_id": values["setl_id"] or None,
        "kind": kind,
        "status": values["status"],
        "med_type": values["med_type"],
        "hospital_level": values["hospital_level"],
        **{f: values[f] for f in fields},
        **{f: money(values[f]) for f in SETTLEMENT_MONEY},
    }


def settlement_out(row: Settlement | dict[str, Any], lines: list[Any], adjustments: list[Adjustment]) -> SettlementOut:
    """The response body of a settlement, a reversal or (``setl_id`` empty) a pre-settlement."""
    out = _settlement_values(row if isinstance(row, dict) else row.model_dump(), yuan)
    out["lines"] = [line_out(line) for line in lines]
    out["adjustments"] = [
        AdjustmentOut.model_construct(run_id=a.run_id, output=a.output, delta=yuan(a.delta), reason=a.reason)
        for a in adjustments
    ]
    return SettlementOut.model_construct(**out)  # our own values: no validation to pay for


def settlement_json(values: dict[str, Any], lines: list[dict[str, Any]]) -> bytes:
    """``settlement_out(values, lines, []).model_dump_json()``, the same bytes (property-tested),
    written from the values directly: a new settlement's response (~0.2 ms less per request
    than building the models; ~0.1 ms less than serialising dicts)."""
    fields = _settlement_values(values, _quoted_yuan)
    fields["lines"] = "[" + ",".join(_line_json(line) for line in lines) + "]"
    fields["adjustments"] = "[]"
    for name in _SETTLEMENT_TEXTS:
        fields[name] = _text_json(fields[name])
    fields["settle_date"] = f'"{fields["settle_date"].isoformat()}"'
    fields["hospital_level"] = str(int(fields["hospital_level"]))
    return (_SETTLEMENT_FORMAT % tuple(fields[name] for name in SettlementOut.model_fields)).encode()


def _format(model: type[BaseModel]) -> str:
    """``{"field":%s,…}`` in the model's field order (what pydantic writes, without spaces)."""
    return "{" + ",".join(f'"{name}":%s' for name in model.model_fields) + "}"


_SETTLEMENT_FORMAT, _LINE_FORMAT = _format(SettlementOut), _format(LineOut)
_SETTLEMENT_TEXTS = (
    "setl_id", "kind", "status", "reverses", "claim_id", "person_id", "institution_id", "category", "policy_id",
    "med_type",
)  # fmt: skip


def _text_json(value: str | None) -> str:
    """A string (or None) as pydantic writes it in JSON."""
    return "null" if value is None else to_json(value).decode()


@lru_cache(maxsize=4096)
def _label_json(value: str) -> str:
    """A label of the policy (layer, rule, bucket, version, bands: few, repeated) as JSON."""
    return to_json(value).decode()


def _quoted_yuan(fen: int) -> str:
    return f'"{yuan_text(fen)}"'


def _line_json(line: dict[str, Any]) -> str:
    values = _line_values(line, _quoted_yuan)
    values.update({f: _label_json(values[f]) for f in LINE_TEXTS})
    values.update({f: "null" for f in LINE_CAPS if values[f] is None})
    return _LINE_FORMAT % tuple(values[f] for f in LineOut.model_fields)


def audit(session: Session, actor: str, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    """Append to the audit log (no ID numbers in ``detail``)."""
    driver(session).run_all(audit_writes(actor, action, entity, entity_id, **detail))


def audit_writes(actor: str, action: str, entity: str, entity_id: str, **detail: Any) -> list[Write]:
    values: dict[str, Any] = {"at": now(), "actor": actor, "action": action, "entity": entity, "entity_id": entity_id}
    return inserts("auditlog", [{**values, "detail": json.dumps(detail, default=str)}])
