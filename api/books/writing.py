"""Rows the books write, as statements (:class:`~api.books.driver.Write`) run by the caller's
transaction: settlements and their lines, reversals, adjustments, accumulators, persons,
identities, post-hoc payments, idempotency records and the audit log.

Every write of the ``accumulator`` table is :func:`accumulator_writes`: the rows of the buckets
named, upserted; rows of other buckets (a post-hoc program's, the second payout's) untouched.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from api.books.driver import Statement, Write, inserts
from api.books.reading import Sums
from settlement.explanation import EXPLAIN_COLUMNS

LINE_FIELDS = ("fund_pay_type", *(c for c in EXPLAIN_COLUMNS if c not in ("claim_id", "person_id", "policy")))
"""The columns of a settlement line: the explanation of one layer, and the fund's code."""
_SUMS = ("base_cum", "paid_cum", "claims")


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """``prefix`` + 24 hex digits: the time in µs, then random. Ids made later sort later, so a
    new settlement and its lines go to the right-hand end of their indexes (a page or two per
    commit) instead of a random place in them."""
    return f"{prefix}{time.time_ns() // 1000:013X}{secrets.randbits(44):011X}"


def settlement_writes(*, values: Mapping[str, Any], lines: list[dict[str, Any]]) -> list[Write]:
    """A settlement (or reversal) row and its lines."""
    setl_id = values["setl_id"]
    rows = [{"setl_id": setl_id, **{f: line[f] for f in LINE_FIELDS}} for line in lines]
    return [*inserts("settlement", [dict(values)]), *inserts("settlementline", rows)]


def submitted_writes(*, setl_id: str, protocol: str, body: bytes) -> list[Write]:
    """The document a client submitted with its settlement, kept as it came."""
    return inserts("submitteddocument", [{"setl_id": setl_id, "protocol": protocol, "body": body, "created_at": now()}])


def accumulator_writes(*, person_id: str, year: int | Mapping[str, int], sums: Sums) -> list[Write]:
    """The person's rows of the buckets in ``sums`` set to those sums (upserted), in ``year`` — or,
    a mapping, in the period (its starting year) of each layer id."""
    rows = [
        {
            "person_id": person_id,
            "year": year if isinstance(year, int) else year[key[0]],
            "layer": key[0],
            "bucket": key[1],
            **dict(zip(_SUMS, value, strict=True)),
        }
        for key, value in sorted(sums.items())
    ]
    return inserts("accumulator", rows, upsert_on=("person_id", "year", "layer", "bucket"))


def adjustment_writes(*, run_id: str, rows: Iterable[tuple[str, str, int, str, int, str]]) -> list[Write]:
    """Adjustments (deltas) of one re-settlement: (setl_id, person_id, year, output, delta fen, reason)."""
    at = now()
    values = [
        {"run_id": run_id, "setl_id": setl_id, "person_id": person, "year": year, "output": output, "delta": delta,
         "reason": reason, "created_at": at}
        for setl_id, person, year, output, delta, reason in rows
    ]  # fmt: skip
    return inserts("adjustment", values)


_REVERSED = Statement.of(
    "UPDATE settlement SET status = 'reversed', reversed_by = :r "
    "WHERE setl_id = :s AND kind = 'settlement' AND status = 'settled'"
)


def reversed_write(*, setl_id: str, reversal_id: str) -> Write:
    """Mark a standing settlement reversed (by ``reversal_id``)."""
    return (_REVERSED, {"s": setl_id, "r": reversal_id})


def person_writes(*, person_id: str, name: str = "", id_number: str = "", if_new: bool = False) -> list[Write]:
    """A person, registered (``if_new``: left as it is if already there; else a duplicate fails)."""
    row = {"person_id": person_id, "name": name, "id_number": id_number, "created_at": now()}
    return inserts("person", [row], upsert_on=("person_id",), update=False) if if_new else inserts("person", [row])


def identity_writes(*, person_id: str, periods: Iterable[tuple[str, date, date | None, str]]) -> list[Write]:
    """Identity periods of a person: (category, valid_from, valid_to, source)."""
    at = now()
    rows = [
        {"person_id": person_id, "category": category, "valid_from": start, "valid_to": end, "source": source,
         "created_at": at, "revoked_at": None}
        for category, start, end, source in periods
    ]  # fmt: skip
    return inserts("identity", rows)


_REVOKED = Statement.of("UPDATE identity SET revoked_at = :at WHERE id = :i AND person_id = :p AND revoked_at IS NULL")


def revoked_write(*, identity_id: int, person_id: str) -> Write:
    return (_REVOKED, {"i": identity_id, "p": person_id, "at": now()})


def payment_writes(*, rows: list[dict[str, Any]]) -> list[Write]:
    """Post-hoc payments (a program's, or the second payout's), with their accumulator rows."""
    at = now()
    payments = [{**row, "created_at": at} for row in rows]
    sums = [
        {"person_id": r["person_id"], "year": r["year"], "layer": r["program"], "bucket": r["bucket"],
         "base_cum": r["base"], "paid_cum": r["paid"], "claims": 1}
        for r in rows
    ]  # fmt: skip
    return [*inserts("posthocpayment", payments), *inserts("accumulator", sums)]


def run_writes(*, program: str, year: int, summary: bytes) -> list[Write]:
    """The record that a program (a post-hoc one, the second payout) ran for ``year``: unique, so
    a second run — even a concurrent one — is refused by the database."""
    return reply_writes(institution_id="(programs)", key=f"{program}/{year}", digest="", status=201, body=summary)


def reply_writes(*, institution_id: str, key: str, digest: str, status: int, body: bytes) -> list[Write]:
    """The record of a reply under its Idempotency-Key."""
    values = {"institution_id": institution_id, "key": key, "request_hash": digest, "status_code": status, "body": body}
    return inserts("idempotencyrecord", [{**values, "created_at": now()}])


def audit_writes(actor: str, action: str, entity: str, entity_id: str, **detail: Any) -> list[Write]:
    """An audit entry (no ID numbers in ``detail``)."""
    values: dict[str, Any] = {"at": now(), "actor": actor, "action": action, "entity": entity, "entity_id": entity_id}
    return inserts("auditlog", [{**values, "detail": json.dumps(detail, default=str, ensure_ascii=False)}])
