"""Year-end post-hoc assistance in the service: from each person-year's effective settlements
(settlements, reversals and adjustments) through the policy's ``post_hoc`` programs, into
payments, accumulators and the audit log — once per program and year."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from api import store
from api.errors import Problem
from api.models import now
from settlement.posthoc import settle_program
from tiers.codes import CATEGORIES, PAYMENT_COLUMNS
from tiers.tables import CompiledPolicy

_T = SQLModel.metadata.tables
AMOUNTS = ("inscp_scp_amt", *PAYMENT_COLUMNS)


def person_years(session: Session, year: int) -> pd.DataFrame:
    """Per person: net in-policy amount and layer payments of the year (fen), and the category of
    the person's latest active settlement."""
    s, a = _T["settlement"].c, _T["adjustment"].c
    sums = sa.select(s.person_id, *(sa.func.sum(s[c]).label(c) for c in AMOUNTS)).where(s.year == year)
    frame = pd.DataFrame(session.execute(sums.group_by(s.person_id)).all(), columns=["person_id", *AMOUNTS])
    deltas = (
        sa.select(a.person_id, a.output, sa.func.sum(a.delta)).where(a.year == year).group_by(a.person_id, a.output)
    )
    adjustments = pd.DataFrame(session.execute(deltas).all(), columns=["person_id", "output", "delta"])
    for output in PAYMENT_COLUMNS:
        extra = adjustments[adjustments["output"] == output].set_index("person_id")["delta"]
        frame[output] = frame[output] + frame["person_id"].map(extra).fillna(0).astype(np.int64)
    active = (s.kind == "settlement") & (s.status == "settled") & (s.year == year)
    latest = pd.DataFrame(
        session.execute(sa.select(s.person_id, s.seq, s.category).where(active)).all(),
        columns=["person_id", "seq", "category"],
    )
    category = latest.sort_values("seq").groupby("person_id")["category"].last()
    frame["category"] = frame["person_id"].map(category).fillna("general").map(CATEGORIES.index).astype(np.int64)
    return frame.assign(year=year).astype(dict.fromkeys(AMOUNTS, np.int64))


def run(session: Session, actor: str, year: int, policy: CompiledPolicy) -> dict[str, Any]:
    """Settle every post-hoc program of the policy for ``year`` (each at most once)."""
    if not policy.policy.post_hoc:
        raise Problem(422, "no_post_hoc", f"policy {policy.id} defines no post-hoc assistance")
    table = _T["posthocpayment"]
    programs = [p.id for p in policy.policy.post_hoc]
    done = session.execute(
        sa.select(table.c.program).where((table.c.year == year) & table.c.program.in_(programs)).limit(1)
    ).first()
    if done is not None:
        raise Problem(
            409, "post_hoc_already_run", f"post-hoc assistance for {year} was already run ({done[0]})", "year"
        )
    years = person_years(session, year)
    run_id, summary = store.new_id("H"), []
    for program in policy.policy.post_hoc:
        paid = settle_program(program, policy.policy, years) if len(years) else pd.DataFrame(columns=["paid"])
        paid = paid[paid["paid"] > 0]
        rows = [
            {
                "run_id": run_id,
                "program": program.id,
                "person_id": person,
                "year": year,
                "rule": rule,
                "bucket": bucket,
                "base": int(base),
                "paid": int(amount),
                "cap": -1 if pd.isna(cap) else int(cap),
                "cap_left": -1 if pd.isna(left) else int(left),
                "created_at": now(),
            }
            for person, rule, bucket, base, amount, cap, left in zip(
                *(paid[k].tolist() for k in ("person_id", "rule", "bucket", "base", "paid", "cap", "cap_left")),
                strict=True,
            )
        ]
        if rows:
            session.execute(sa.insert(table), rows)
            accumulators = [
                {
                    "person_id": r["person_id"],
                    "year": year,
                    "layer": program.id,
                    "bucket": r["bucket"],
                    "base_cum": r["base"],
                    "paid_cum": r["paid"],
                    "claims": 1,
                }
                for r in rows
            ]
            session.execute(sa.insert(_T["accumulator"]), accumulators)  # once per program-year: new rows
        summary.append(
            {"program": program.id, "persons_paid": len(rows), "paid": f"{sum(r['paid'] for r in rows) / 100:.2f}"}
        )
    store.audit(session, actor, "post_hoc", "year", str(year), run_id=run_id, programs=programs)
    session.commit()
    return {"run_id": run_id, "year": year, "programs": summary}
