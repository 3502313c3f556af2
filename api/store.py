"""Reading and writing the service's rows; every function runs inside the caller's transaction.

Locking: on PostgreSQL the person row is locked (``SELECT … FOR UPDATE``) before accumulators
are read, so two settlements of one person are serialized while other persons go in parallel;
on SQLite every write transaction holds the database's write lock from its first statement
(``BEGIN IMMEDIATE``, :mod:`api.db`).
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.engine import ClaimFacts, Outcome
from api.errors import Problem
from api.models import Accumulator, Adjustment, AuditLog, Identity, Person, Settlement, SettlementLine
from api.schemas import AdjustmentOut, LineOut, SettlementOut

__all__ = ["AdjustmentOut"]
from settlement.accumulators import Ledger

Key = tuple[str, str]  # (layer, bucket)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24].upper()


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def lock_person(session: Session, person_id: str) -> Person:
    """The person, locked for this transaction (PostgreSQL); 404 when not registered."""
    query = select(Person).where(Person.person_id == person_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    person = session.exec(query).first()
    if person is None:
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")
    return person


def categories_on(session: Session, person_id: str, day: date) -> list[str]:
    """Relief categories of the person's identities valid on ``day`` (not revoked)."""
    rows = session.exec(
        select(Identity.category).where(
            Identity.person_id == person_id,
            col(Identity.revoked_at).is_(None),
            Identity.valid_from <= day,
            (col(Identity.valid_to).is_(None)) | (col(Identity.valid_to) >= day),
        )
    ).all()
    return sorted(set(rows))


def accumulator_rows(session: Session, person_id: str, year: int) -> dict[Key, Accumulator]:
    rows = session.exec(select(Accumulator).where(Accumulator.person_id == person_id, Accumulator.year == year))
    return {(r.layer, r.bucket): r for r in rows}


def as_ledger(person_id: str, year: int, rows: dict[Key, tuple[int, int, int]]) -> Ledger:
    """A person-year's accumulators ((layer, bucket) → base, paid, claims) as an engine ledger."""
    keys = list(rows)
    values = np.array([rows[k] for k in keys], dtype=np.int64).reshape(len(keys), 3)
    return Ledger(
        person_id=np.array([person_id] * len(keys), dtype=object),
        year=np.full(len(keys), year, dtype=np.int64),
        layer=np.array([k[0] for k in keys], dtype=object),
        bucket=np.array([k[1] for k in keys], dtype=object),
        base_cum=values[:, 0].copy(),
        paid_cum=values[:, 1].copy(),
        claims=values[:, 2].copy(),
    )


def plus(rows: dict[Key, tuple[int, int, int]], delta: Ledger) -> dict[Key, tuple[int, int, int]]:
    """Accumulators after a claim: ``rows`` plus the engine's delta."""
    out = dict(rows)
    for layer, bucket, base, paid, claims in zip(
        delta.layer, delta.bucket, delta.base_cum.tolist(), delta.paid_cum.tolist(), delta.claims.tolist(), strict=True
    ):
        b0, p0, c0 = out.get((layer, bucket), (0, 0, 0))
        out[(layer, bucket)] = (b0 + base, p0 + paid, c0 + claims)
    return out


def write_accumulators(
    session: Session, person_id: str, year: int, stored: dict[Key, Accumulator], new: dict[Key, tuple[int, int, int]]
) -> None:
    """Make the stored accumulators of a person-year equal ``new`` (rows updated, added or zeroed)."""
    for key in set(stored) | set(new):
        base, paid, claims = new.get(key, (0, 0, 0))
        row = stored.get(key) or Accumulator(person_id=person_id, year=year, layer=key[0], bucket=key[1])
        row.base_cum, row.paid_cum, row.claims = base, paid, claims
        session.add(row)


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


def find_active_claim(session: Session, institution_id: str, claim_id: str) -> Settlement | None:
    return session.exec(
        select(Settlement).where(
            Settlement.institution_id == institution_id,
            Settlement.claim_id == claim_id,
            Settlement.kind == "settlement",
            Settlement.status == "settled",
        )
    ).first()


def next_seq(session: Session, person_id: str) -> int:
    last = session.exec(select(func.max(Settlement.seq)).where(Settlement.person_id == person_id)).one()
    return int(last or 0) + 1


def insert_settlement(
    session: Session, facts: ClaimFacts, outcome: Outcome, institution_id: str, policy_id: str, seq: int
) -> Settlement:
    row = Settlement(
        setl_id=new_id("S"),
        seq=seq,
        claim_id=facts.claim_id,
        institution_id=institution_id,
        person_id=facts.person_id,
        year=facts.settle_date.year,
        settle_date=facts.settle_date,
        med_type=str(facts.med_type),
        hospital_level=facts.hospital_level,
        diagnosis=facts.diagnosis,
        accident=facts.accident,
        category=outcome.category,
        policy_id=policy_id,
        medfee_sumamt=facts.medfee_sumamt,
        fulamt_ownpay_amt=facts.fulamt_ownpay_amt,
        overlmt_selfpay=facts.overlmt_selfpay,
        preselfpay_amt=facts.preselfpay_amt,
    )
    set_amounts(row, outcome.amounts)
    session.add(row)
    session.add_all(SettlementLine(setl_id=row.setl_id, **_line_fields(line)) for line in outcome.lines)
    return row


LINE_FIELDS = (
    "layer",
    "output",
    "fund_pay_type",
    "rule",
    "bucket",
    "version",
    "bands",
    "base",
    "cum_before",
    "cum_after",
    "deductible",
    "deductible_applied",
    "raw_amount",
    "cap",
    "cap_used_before",
    "paid",
    "cap_left",
)


def set_amounts(row: Settlement, amounts: dict[str, int]) -> None:
    """The engine's output columns (fen) onto a settlement row."""
    for column, fen in amounts.items():
        setattr(row, column, fen)


def _line_fields(line: dict[str, Any]) -> dict[str, Any]:
    return {f: line[f] for f in LINE_FIELDS}


def lines_of(session: Session, setl_id: str) -> list[SettlementLine]:
    return list(
        session.exec(select(SettlementLine).where(SettlementLine.setl_id == setl_id).order_by(col(SettlementLine.id)))
    )


def adjustments_of(session: Session, setl_id: str) -> list[Adjustment]:
    return list(session.exec(select(Adjustment).where(Adjustment.setl_id == setl_id).order_by(col(Adjustment.id))))


def line_out(line: SettlementLine | dict[str, Any]) -> LineOut:
    def get(field: str) -> Any:
        return line[field] if isinstance(line, dict) else getattr(line, field)

    money = {
        f: yuan(int(get(f)))
        for f in ("base", "deductible", "deductible_applied", "raw_amount", "cap_used_before", "paid")
    }
    capped = {f: (None if int(get(f)) < 0 else yuan(int(get(f)))) for f in ("cap", "cap_left")}
    texts = {f: str(get(f)) for f in ("layer", "output", "fund_pay_type", "rule", "bucket", "version", "bands")}
    return LineOut(**texts, **money, **capped)


SETTLEMENT_MONEY = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "supp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
)


def settlement_out(row: Settlement, lines: list[Any], adjustments: list[Adjustment]) -> SettlementOut:
    """The response body of a settlement, a reversal or (``row.setl_id`` empty) a pre-settlement."""
    kind = row.kind if row.setl_id else "pre_settlement"
    return SettlementOut(
        setl_id=row.setl_id or None,
        kind=kind,
        status=row.status,
        reverses=row.reverses,
        claim_id=row.claim_id,
        person_id=row.person_id,
        institution_id=row.institution_id,
        category=row.category,
        policy_id=row.policy_id,
        settle_date=row.settle_date,
        med_type=row.med_type,
        hospital_level=row.hospital_level,
        **{f: yuan(getattr(row, f)) for f in SETTLEMENT_MONEY},
        lines=[line_out(line) for line in lines],
        adjustments=[
            AdjustmentOut(run_id=a.run_id, output=a.output, delta=yuan(a.delta), reason=a.reason) for a in adjustments
        ],
    )


def audit(session: Session, actor: str, action: str, entity: str, entity_id: str, **detail: Any) -> None:
    session.add(
        AuditLog(actor=actor, action=action, entity=entity, entity_id=entity_id, detail=json.dumps(detail, default=str))
    )
