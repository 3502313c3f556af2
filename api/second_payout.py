"""The supplementary layer's second payout (二次赔付) posted into the service's books.

For an insurance year: premium = insured persons × the policy's ``premium_per_person`` (insured:
registered persons holding an identity of a covered category during the year, or the insurer's
own count); first payouts = Σ the layer's payments of the year (settlements, reversals,
adjustments); due = floor × premium − payouts when positive, allocated by
:func:`settlement.supplementary.account` (pro rata to the remaining in-policy self-pay, never
more). Each person's share is recorded as a payment of the program ``<layer>_second_payout`` with
an accumulator row and an audit entry — once per year.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from api import store
from api.errors import Problem
from api.models import now
from api.posthoc import person_years
from settlement.supplementary import account, funded_layer, insured_categories, year_terms
from tiers.codes import CATEGORIES, PAYMENT_COLUMNS
from tiers.schema import Layer
from tiers.tables import CompiledPolicy

_T = SQLModel.metadata.tables
BUCKET = "second_payout"


def program_id(layer: Layer) -> str:
    return f"{layer.id}_{BUCKET}"


def _paying_layer(policy: CompiledPolicy) -> Layer:
    layer = funded_layer(policy.policy)
    if layer is None or layer.funding is None or not layer.funding.second_payout:
        raise Problem(422, "no_second_payout", f"policy {policy.id} has no premium-funded layer with a second payout")
    return layer


def insured_persons(session: Session, year: int, covered: frozenset[str] | None) -> int:
    """Registered persons with an identity of a covered category valid at some time in ``year``."""
    i = _T["identity"].c
    during = (i.valid_from <= date(year, 12, 31)) & (i.valid_to.is_(None) | (i.valid_to >= date(year, 1, 1)))
    query = sa.select(sa.func.count(sa.distinct(i.person_id))).where(i.revoked_at.is_(None) & during)
    if covered is not None:
        query = query.where(i.category.in_(sorted(covered)))
    return int(session.execute(query).scalar_one())


def _already(session: Session, program: str, year: int) -> None:
    table = _T["posthocpayment"].c
    done = session.execute(sa.select(table.id).where((table.program == program) & (table.year == year)).limit(1))
    if done.first() is not None:
        raise Problem(409, "second_payout_already_run", f"the second payout for {year} was already posted", "year")


def run(session: Session, actor: str, year: int, policy: CompiledPolicy, insured: int | None) -> dict[str, Any]:
    """Compute, allocate and post the year's second payout (see the module docstring)."""
    layer = _paying_layer(policy)
    program = program_id(layer)
    _already(session, program, year)
    covered = insured_categories(layer)
    years = person_years(session, year)
    names = np.asarray(CATEGORIES)[years["category"].to_numpy(np.int64)]
    members = years if covered is None else years[np.isin(names, list(covered))]
    remaining = (members["inscp_scp_amt"] - members[list(PAYMENT_COLUMNS)].sum(axis=1)).clip(lower=0)
    count = insured if insured is not None else insured_persons(session, year, covered)
    per_person, floor = year_terms(layer, year)
    paid = int(years[layer.output].sum()) if len(years) else 0
    result, shares = account(year, count, per_person, floor, paid, remaining.to_numpy(np.int64))
    run_id = store.new_id("T")
    chosen = np.flatnonzero(shares > 0)
    rows = [
        {
            "run_id": run_id, "program": program, "person_id": person, "year": year, "rule": "pro_rata",
            "bucket": BUCKET, "base": int(base), "paid": int(share), "cap": -1, "cap_left": -1, "created_at": now(),
        }
        for person, base, share in zip(
            members["person_id"].to_numpy()[chosen], remaining.to_numpy()[chosen], shares[chosen], strict=True
        )
    ]  # fmt: skip
    if rows:
        session.execute(sa.insert(_T["posthocpayment"]), rows)
        session.execute(
            sa.insert(_T["accumulator"]),
            [
                {"person_id": r["person_id"], "year": year, "layer": program, "bucket": BUCKET,
                 "base_cum": r["base"], "paid_cum": r["paid"], "claims": 1}
                for r in rows
            ],
        )  # fmt: skip
    summary = {
        "run_id": run_id,
        "year": year,
        "layer": layer.id,
        "insured": count,
        "premium": store.yuan(result.premium),
        "first_payouts": store.yuan(paid),
        "loss_ratio": f"{result.loss_ratio:.4f}",
        "loss_ratio_floor": str(floor),
        "due": store.yuan(result.due),
        "allocated": store.yuan(result.allocated),
        "undistributed": store.yuan(result.undistributed),
        "persons_paid": len(rows),
    }
    store.audit(session, actor, "second_payout", "year", str(year), **{k: str(v) for k, v in summary.items()})
    session.commit()
    return {k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in summary.items()}
