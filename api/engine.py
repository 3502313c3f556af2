"""The one place ``api`` calls the engine: claims of distinct person-years (a batch of real-time
settlements, or one), their candidate categories, carried accumulators — one engine call.

A person holding several identities on the claim's date is settled under each candidate
category and the most favourable result is kept (就高不重复): the lowest ``psn_part_amt``; ties
go to the category listed first in :data:`tiers.codes.CATEGORIES`. No ranking of categories is
written in Python: the policy file decides which is more favourable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from settlement.accumulators import Ledger
from settlement.claims import ClaimTable
from settlement.engine import Settlement, settle
from settlement.explain import columns
from tiers.codes import CATEGORIES, MED_TYPES
from tiers.tables import CompiledPolicy

I64 = npt.NDArray[np.int64]
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


Key = tuple[str, str]
"""(layer, bucket) of an accumulator."""
Sums = dict[Key, tuple[int, int, int]]
"""A person-year's accumulators: (layer, bucket) → (base_cum, paid_cum, claims), fen."""


@dataclass(frozen=True)
class Outcome:
    """One claim settled: the category used, amounts (fen), explanation lines, what it added to
    the accumulators."""

    category: str
    amounts: dict[str, int]
    lines: list[dict[str, Any]]
    delta: Sums


@dataclass(frozen=True)
class Case:
    """A claim to settle: its facts, the person's candidate categories on its date, and the
    person-year's accumulators before it."""

    facts: ClaimFacts
    categories: list[str]
    opening: Sums


def settle_many(cases: Sequence[Case], policy: CompiledPolicy) -> list[Outcome]:
    """Settle claims of distinct person-years in one engine call; for each, the most favourable
    candidate category (就高不重复).

    Every (claim, candidate category) is a row of its own, settled as a person of its own on a
    copy of the claim's opening accumulators, so the candidates never see each other.
    """
    rows = [(i, category) for i, case in enumerate(cases) for category in _candidates(case.categories)]
    cases_of_rows = [cases[i] for i, _ in rows]
    table = _table([case.facts for case in cases_of_rows], [category for _, category in rows])
    result = settle(table, policy, _ledger(cases_of_rows), explain=True)
    best = _most_favourable([i for i, _ in rows], result.psn_part_amt.tolist())
    persons = [case.facts.person_id for case in cases_of_rows]
    return _outcomes(result, best, [category for _, category in rows], persons, _fund_types(policy))


def settle_one(facts: ClaimFacts, categories: list[str], policy: CompiledPolicy, opening: Sums) -> Outcome:
    """:func:`settle_many` of one claim."""
    return settle_many([Case(facts, categories, opening)], policy)[0]


def _candidates(categories: list[str]) -> list[str]:
    """The categories to try, in :data:`tiers.codes.CATEGORIES` order (ties go to the first)."""
    return sorted(set(categories) or {"general"}, key=CATEGORIES.index)


def _table(facts: list[ClaimFacts], categories: list[str]) -> ClaimTable:
    """One row per candidate, each its own person (``"0"``, ``"1"``, …) with one claim."""
    n = len(facts)

    def ints(values: list[int]) -> I64:
        return np.array(values, dtype=np.int64)

    return ClaimTable(
        claim_id=np.array([f.claim_id for f in facts], dtype=object),
        claim_rank=np.arange(n, dtype=np.int64),  # one claim per person: nothing to break ties with
        person=np.arange(n, dtype=np.int64),
        persons=np.array([str(r) for r in range(n)], dtype=object),
        category=ints([CATEGORIES.index(c) for c in categories]),
        med=ints([MED_TYPES.index(f.med_type) for f in facts]),
        level=ints([f.hospital_level - 1 for f in facts]),
        day=ints([(f.settle_date - EPOCH).days for f in facts]),
        diagnosis=np.arange(n, dtype=np.int64),
        diagnoses=np.array([f.diagnosis.strip().upper() for f in facts], dtype=object),
        accident=ints([int(f.accident) for f in facts]),
        medfee=ints([f.medfee_sumamt for f in facts]),
        fulamt_ownpay=ints([f.fulamt_ownpay_amt for f in facts]),
        overlmt_selfpay=ints([f.overlmt_selfpay for f in facts]),
        preselfpay=ints([f.preselfpay_amt for f in facts]),
    )


def _ledger(cases: list[Case]) -> Ledger:
    """Each row's opening accumulators, under the row's own person (see :func:`_table`)."""
    entries = [
        (str(r), case.facts.settle_date.year, *key, *sums)
        for r, case in enumerate(cases)
        for key, sums in case.opening.items()
    ]
    if not entries:
        return Ledger.empty()
    person, year, layer, bucket, base, paid, claims = zip(*entries, strict=True)
    return Ledger(
        person_id=np.array(person, dtype=object),
        year=np.array(year, dtype=np.int64),
        layer=np.array(layer, dtype=object),
        bucket=np.array(bucket, dtype=object),
        base_cum=np.array(base, dtype=np.int64),
        paid_cum=np.array(paid, dtype=np.int64),
        claims=np.array(claims, dtype=np.int64),
    )


def _most_favourable(case_of_row: list[int], psn_part_amt: list[int]) -> list[int]:
    """For each case, its row with the lowest ``psn_part_amt`` (the first of equals)."""
    best: dict[int, int] = {}
    for row, case in enumerate(case_of_row):
        if case not in best or psn_part_amt[row] < psn_part_amt[best[case]]:
            best[case] = row
    return [best[case] for case in sorted(best)]


def _fund_types(policy: CompiledPolicy) -> dict[str, str]:
    return {layer.id: layer.fund_pay_type or "" for layer in policy.policy.layers}


def _outcomes(
    result: Settlement, best: list[int], categories: list[str], persons: list[str], fund_types: dict[str, str]
) -> list[Outcome]:
    """The chosen rows' outcomes; the explanation names the real person, not the row's."""
    money = {
        "inscp_scp_amt": result.claims.inscp,
        "act_pay_dedc": result.act_pay_dedc,
        **result.payments,
        "fund_pay_sumamt": result.fund_pay_sumamt,
        "psn_part_amt": result.psn_part_amt,
    }
    values = {column: amounts.tolist() for column, amounts in money.items()}
    explained = {c: v.tolist() for c, v in columns(result).items()}
    explained["fund_pay_type"] = [fund_types.get(str(layer), "") for layer in explained["layer"]]
    layers = len(result.layers)
    explained["person_id"] = [person for person in persons for _ in range(layers)]
    names = list(explained)
    by_row = list(zip(*explained.values(), strict=True))
    deltas = _deltas(result.delta(), set(best))
    return [
        Outcome(
            categories[row],
            {column: column_values[row] for column, column_values in values.items()},
            [dict(zip(names, line, strict=True)) for line in by_row[row * layers : (row + 1) * layers]],
            deltas.get(row, {}),
        )
        for row in best
    ]


def _deltas(delta: Ledger, rows: set[int]) -> dict[int, Sums]:
    """What each of ``rows`` added to its accumulators (the ledger's persons are row numbers)."""
    out: dict[int, Sums] = {}
    entries = zip(
        delta.person_id.tolist(), delta.layer.tolist(), delta.bucket.tolist(),
        delta.base_cum.tolist(), delta.paid_cum.tolist(), delta.claims.tolist(), strict=True,
    )  # fmt: skip
    for person, layer, bucket, base, paid, claims in entries:
        if int(person) in rows:
            out.setdefault(int(person), {})[(layer, bucket)] = (base, paid, claims)
    return out


def warm_up(policy: CompiledPolicy) -> Outcome:
    """Settle one made-up claim so the compiled kernels are loaded before the first real request
    (the first call in a process loads them from numba's cache: ~0.3 s)."""
    claim = ClaimFacts("warm-up", "warm-up", MED_TYPES[0], 1, policy.versions[0], "", False, 10_000, 0, 0, 0)
    return settle_one(claim, [], policy, {})
