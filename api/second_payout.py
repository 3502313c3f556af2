"""The supplementary layer's second payout (二次赔付) posted into the service's books.

For an insurance year: premium = insured persons × the policy's ``premium_per_person`` (insured:
registered persons holding an identity of a covered category during the year, or the insurer's
own count); first payouts = Σ the layer's payments of the year (settlements, reversals,
adjustments); due = floor × premium − payouts when positive, allocated by
:func:`settlement.supplementary.account` as the policy's ``funding.allocation`` says, from each
claim's effective amounts (:func:`settlement.supplementary.remaining_selfpay`, as the batch
command does), never more than a person's remaining in-policy self-pay. Each person's share is
recorded as a payment of the program ``<layer>_second_payout`` (its rule: the allocation) with an
accumulator row and an audit entry — once per year.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from api.books import queries, writing
from api.books.driver import Driver
from api.errors import Problem
from settlement.money import yuan_text
from settlement.supplementary import (
    SECOND_PAYOUT,
    account,
    funded_layer,
    insured_categories,
    remaining_selfpay,
    second_payout_program,
    year_terms,
)
from tiers.schema import Layer
from tiers.tables import CompiledPolicy

BUCKET = SECOND_PAYOUT
program_id = second_payout_program


def _paying_layer(policy: CompiledPolicy) -> Layer:
    layer = funded_layer(policy.policy)
    if layer is None or layer.funding is None or not layer.funding.second_payout:
        raise Problem(422, "no_second_payout", f"policy {policy.id} has no premium-funded layer with a second payout")
    return layer


def insured_persons(db: Driver, year: int, covered: frozenset[str] | None) -> int:
    """Registered persons with an identity of a covered category valid at some time in ``year``."""
    held = queries.identities_during(db, year=year)
    return len({person for person, category in held if covered is None or category in covered})


def run(db: Driver, actor: str, year: int, policy: CompiledPolicy, insured: int | None) -> dict[str, Any]:
    """Compute, allocate and post the year's second payout (see the module docstring); committed."""
    layer = _paying_layer(policy)
    program = program_id(layer)
    if queries.program_ran(db, program=program, year=year):
        raise Problem(409, "second_payout_already_run", f"the second payout for {year} was already posted", "year")
    covered = insured_categories(layer)
    money = ("inscp_scp_amt", *policy.outputs)
    claims = pd.DataFrame(queries.year_claims(db, year=year), columns=["person_id", "category", *money])
    claims = claims.fillna(dict.fromkeys(money, 0)).astype(dict.fromkeys(money, np.int64)).assign(year=year)
    allocation = layer.funding.allocation if layer.funding else "remaining_self_pay"
    mine = claims if covered is None else claims[claims["category"].isin(covered)]
    members = remaining_selfpay(mine, allocation, layer.output)
    remaining = members["remaining"].clip(lower=0)
    count = insured if insured is not None else insured_persons(db, year, covered)
    if count < 1:
        raise Problem(422, "no_insured_persons", f"no insured persons in {year}: give the insurer's count", "insured")
    per_person, floor = year_terms(layer, year)
    paid = int(claims[layer.output].sum()) if len(claims) else 0
    result, shares = account(year, count, per_person, floor, paid, remaining.to_numpy(np.int64), allocation)
    run_id = writing.new_id("T")
    chosen = np.flatnonzero(shares > 0)
    rows = [
        {"run_id": run_id, "program": program, "person_id": person, "year": year, "rule": allocation,
         "bucket": BUCKET, "base": int(base), "paid": int(share), "cap": -1, "cap_left": -1}
        for person, base, share in zip(
            members["person_id"].to_numpy()[chosen], remaining.to_numpy()[chosen], shares[chosen], strict=True
        )
    ]  # fmt: skip
    summary = {
        "run_id": run_id,
        "year": year,
        "layer": layer.id,
        "insured": count,
        "premium": yuan_text(result.premium),
        "first_payouts": yuan_text(paid),
        "loss_ratio": f"{result.loss_ratio:.4f}",
        "loss_ratio_floor": str(floor),
        "due": yuan_text(result.due),
        "allocated": yuan_text(result.allocated),
        "undistributed": yuan_text(result.undistributed),
        "persons_paid": len(rows),
    }
    db.commit(
        [
            *writing.payment_writes(rows=rows),
            *writing.run_writes(program=program, year=year, summary=run_id.encode()),
            *writing.audit_writes(actor, "second_payout", "year", str(year), **summary),
        ]
    )
    return summary
