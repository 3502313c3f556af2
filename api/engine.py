"""The one place ``api`` calls the engine: one claim, its candidate categories, carried accumulators.

A person holding several identities on the claim's date is settled under each candidate
category and the most favourable result is kept (就高不重复): the lowest ``psn_part_amt``; ties
go to the category listed first in :data:`tiers.codes.CATEGORIES`. No ranking of categories is
written in Python: the policy file decides which is more favourable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from settlement.accumulators import Ledger
from settlement.claims import ClaimTable
from settlement.engine import Settlement, settle
from settlement.explain import columns
from tiers.codes import CATEGORIES, MED_TYPES
from tiers.tables import CompiledPolicy

EPOCH = date(1970, 1, 1)
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")


def to_fen(yuan: Decimal) -> int:
    return int(yuan * 100)


@dataclass(frozen=True)
class ClaimFacts:
    """A claim as the engine needs it (amounts in fen), from a request or a stored settlement."""

    claim_id: str
    person_id: str
    med_type: str
    hospital_level: int
    settle_date: date
    diagnosis: str
    accident: bool
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int

    @classmethod
    def of(cls, source: Any, *, yuan: bool) -> ClaimFacts:
        money = [to_fen(getattr(source, a)) if yuan else int(getattr(source, a)) for a in AMOUNTS]
        return cls(
            str(source.claim_id),
            str(source.person_id),
            str(source.med_type),
            int(source.hospital_level),
            source.settle_date,
            str(source.diagnosis),
            bool(source.accident),
            *money,
        )

    def table(self, category: str) -> ClaimTable:
        """This claim as a one-row claim table under ``category``."""

        def one(value: int) -> np.ndarray[Any, np.dtype[np.int64]]:
            return np.array([value], dtype=np.int64)

        return ClaimTable(
            claim_id=np.array([self.claim_id], dtype=object),
            claim_rank=one(0),
            person=one(0),
            persons=np.array([self.person_id], dtype=object),
            category=one(CATEGORIES.index(category)),
            med=one(MED_TYPES.index(str(self.med_type))),
            level=one(self.hospital_level - 1),
            day=one((self.settle_date - EPOCH).days),
            diagnosis=one(0),
            diagnoses=np.array([self.diagnosis.strip().upper()], dtype=object),
            accident=one(int(self.accident)),
            medfee=one(self.medfee_sumamt),
            fulamt_ownpay=one(self.fulamt_ownpay_amt),
            overlmt_selfpay=one(self.overlmt_selfpay),
            preselfpay=one(self.preselfpay_amt),
        )


@dataclass(frozen=True)
class Outcome:
    """One claim settled: the category used, amounts (fen), explanation lines, accumulator delta."""

    category: str
    amounts: dict[str, int]
    lines: list[dict[str, Any]]
    delta: Ledger


def _outcome(result: Settlement, category: str, fund_types: dict[str, str]) -> Outcome:
    amounts = {
        "inscp_scp_amt": int(result.claims.inscp[0]),
        "act_pay_dedc": int(result.act_pay_dedc[0]),
        **{column: int(paid[0]) for column, paid in result.payments.items()},
        "fund_pay_sumamt": int(result.fund_pay_sumamt[0]),
        "psn_part_amt": int(result.psn_part_amt[0]),
    }
    explained = {c: v.tolist() for c, v in columns(result).items()}
    explained["fund_pay_type"] = [fund_types.get(str(layer), "") for layer in explained["layer"]]
    lines = [dict(zip(explained, row, strict=True)) for row in zip(*explained.values(), strict=True)]
    return Outcome(category, amounts, lines, result.delta())


def settle_one(facts: ClaimFacts, categories: list[str], policy: CompiledPolicy, opening: Ledger) -> Outcome:
    """Settle ``facts`` under each candidate category on ``opening``; keep the most favourable."""
    fund_types = {layer.id: layer.fund_pay_type or "" for layer in policy.policy.layers}
    ordered = sorted(set(categories) or {"general"}, key=CATEGORIES.index)
    results = [(settle(facts.table(c), policy, opening, explain=True), c) for c in ordered]
    best, category = min(results, key=lambda rc: int(rc[0].psn_part_amt[0]))
    return _outcome(best, category, fund_types)


def warm_up(policy: CompiledPolicy) -> Outcome:
    """Settle one made-up claim so the compiled kernels are loaded before the first real request
    (the first call in a process loads them from numba's cache: ~0.3 s)."""
    claim = ClaimFacts("warm-up", "warm-up", MED_TYPES[0], 1, policy.versions[0], "", False, 10_000, 0, 0, 0)
    return settle_one(claim, [], policy, Ledger.empty())
