"""Accounting of a premium-funded supplementary layer (低补保): loss ratio and the second payout.

Per insurance year: premium = insured persons × premium per person (the policy's ``funding``);
first payouts = Σ of the layer's payments that year; loss ratio = payouts / premium. Where the
policy sets a floor (Nantong: 92%) and payouts fall below it, the shortfall
``floor × premium − payouts`` is paid the next year (二次赔付), shared among insured persons as the
policy's ``funding.allocation`` says — pro rata to each person's remaining in-policy self-pay
(政策范围内 amount left after every layer) on all claims or on the claims the layer covered, by
the largest-remainder method, or in equal shares — never more than that remaining amount, so the
allocation adds up to the fen; what no one can take is reported as undistributed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.money import round_half_up
from tiers.codes import fund_columns
from tiers.params import value_at
from tiers.schema import Layer, Policy
from tiers.tables import RATIO_SCALE

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class YearAccount:
    """One insurance year of the supplementary layer (money in fen)."""

    year: int
    insured: int
    premium: int
    paid: int
    floor: Decimal
    due: int  # the second payout: max(0, floor × premium − paid), rounded half up to the fen
    allocated: int
    undistributed: int

    @property
    def loss_ratio(self) -> Decimal:
        return Decimal(self.paid) / Decimal(self.premium) if self.premium else Decimal(0)


def allocate(amount: int, remaining: I64) -> I64:
    """Split ``amount`` fen pro rata to ``remaining`` (fen ≥ 0), each share at most its remaining.

    >>> allocate(100, np.array([50, 30, 20, 0])).tolist()
    [50, 30, 20, 0]
    >>> allocate(10, np.array([1, 1, 1])).tolist()
    [1, 1, 1]
    >>> allocate(7, np.array([300, 200, 100])).tolist()
    [4, 2, 1]
    """
    total = int(remaining.sum())
    if total <= amount:
        return remaining.copy()
    exact = remaining.astype(object) * amount  # Python ints: no overflow for any realistic sum
    shares = (exact // total).astype(np.int64)
    left = amount - int(shares.sum())
    remainders = (exact % total).astype(np.float64)
    order = np.lexsort((np.arange(len(remaining)), -remainders))
    shares[order[:left]] += 1
    return shares


def allocate_equal(amount: int, remaining: I64) -> I64:
    """Split ``amount`` fen in equal shares, each at most its ``remaining`` (fen ≥ 0): those who
    can take less than an equal share take all they can, the rest share what is left equally
    (water filling); the fen that do not divide go to the first in order.

    >>> allocate_equal(100, np.array([50, 30, 20, 0])).tolist()
    [50, 30, 20, 0]
    >>> allocate_equal(90, np.array([50, 30, 20, 0])).tolist()
    [40, 30, 20, 0]
    >>> allocate_equal(10, np.array([7, 7, 7])).tolist()
    [4, 3, 3]
    """
    if int(remaining.sum()) <= amount:
        return remaining.copy()
    order = np.argsort(remaining, kind="stable")
    ranked = remaining[order]
    n = len(ranked)
    below = np.concatenate([[0], np.cumsum(ranked)[:-1]])  # Σ of the smaller ones
    reach = below + ranked * (n - np.arange(n))  # what is paid when the level is ranked[k]
    k = int(np.searchsorted(reach, amount, side="left"))
    level, extra = divmod(amount - int(below[k]), n - k)
    shares = np.minimum(remaining, level).astype(np.int64)
    taking = np.flatnonzero(remaining > level)[:extra]
    shares[taking] += 1
    return shares


def shares_of(allocation: str, amount: int, remaining: I64) -> I64:
    """``amount`` fen shared as the policy's ``funding.allocation`` says (the remaining amounts
    already restricted to covered claims for ``covered_self_pay``)."""
    return allocate_equal(amount, remaining) if allocation == "equal_shares" else allocate(amount, remaining)


SECOND_PAYOUT = "second_payout"
"""The bucket (and suffix of the program id) under which second payouts are recorded."""


def second_payout_program(layer: Layer) -> str:
    """The program id under which a funded layer's second payouts are recorded (``<layer>_second_payout``)."""
    return f"{layer.id}_{SECOND_PAYOUT}"


def funded_layer(policy: Policy) -> Layer | None:
    """The policy's premium-funded layer (the one with a ``funding`` block), if any."""
    return next((layer for layer in policy.layers if layer.funding is not None), None)


def year_terms(layer: Layer, year: int) -> tuple[int, Decimal]:
    """Premium per insured person (fen) and loss-ratio floor in force on 1 January of ``year``."""
    funding = layer.funding
    if funding is None:
        raise ValueError(f"layer {layer.id} has no funding block")
    on = date(year, 1, 1)
    premium = value_at(funding.premium_per_person, on).value or Decimal(0)
    return int(premium * 100), value_at(funding.loss_ratio_floor, on).value or Decimal(0)


def insured_categories(layer: Layer) -> frozenset[str] | None:
    """Categories any rule of the layer covers (``None``: every category)."""
    covered: set[str] = set()
    for rule in layer.rules:
        if rule.when.category is None:
            return None
        covered |= {str(c) for c in rule.when.category}
    return frozenset(covered)


def account(
    year: int,
    insured: int,
    premium_per_person: int,
    floor: Decimal,
    paid: int,
    remaining: I64,
    allocation: str = "remaining_self_pay",
) -> tuple[YearAccount, I64]:
    """The year's account and each person's second payout (aligned with ``remaining``)."""
    premium = insured * premium_per_person
    floor_units = int(floor * RATIO_SCALE)
    target = int(round_half_up(np.array([premium * floor_units], np.int64))[0])
    due = max(0, target - paid)
    shares = shares_of(allocation, due, remaining) if due else np.zeros(len(remaining), np.int64)
    allocated = int(shares.sum())
    return YearAccount(year, insured, premium, paid, floor, due, allocated, due - allocated), shares


def remaining_selfpay(
    frame: pd.DataFrame, allocation: str = "remaining_self_pay", output: str = "supp_pay"
) -> pd.DataFrame:
    """Per person and year: in-policy amount left after every fund (its columns: those ending in
    ``_pay``; fen) and the funded layer's (``output``) payments, from settled claims (one row per
    claim, effective amounts); for ``covered_self_pay`` the remaining amount counts only the claims
    the layer paid on (its diseases and accidents)."""
    left = frame["inscp_scp_amt"] - frame[list(fund_columns(frame.columns))].sum(axis=1)
    if allocation == "covered_self_pay":
        left = left.where(frame[output] > 0, 0)
    grouped = frame.assign(remaining=left).groupby(["person_id", "year"], as_index=False, sort=True)
    return grouped.agg(remaining=("remaining", "sum"), paid=(output, "sum"))
