"""One block of persons settled under every scenario: what each person paid and got, and which caps bound.

A block is self-contained (persons never straddle blocks), so settling blocks separately and
adding them up equals settling the cohort at once; that is what lets the same run go to Dask.
Everything is summed in int64 fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from settlement.claims import ClaimTable
from settlement.engine import SettledBatch, settle
from settlement.simulation.cohort import Block, CohortSpec, generate_block
from tiers.codes import CATEGORIES, MED_TYPES, PAYMENT_COLUMNS
from tiers.tables import NO_LIMIT, CompiledPolicy

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
PERSON_MONEY = ("medfee_sumamt", "inscp_scp_amt", *PAYMENT_COLUMNS, "fund_pay_sumamt", "psn_part_amt")
"""Per-person sums kept for each scenario (fen)."""
GROUP_FIELDS = ("claims", *PERSON_MONEY)
"""Per (category, med_type) sums kept for each scenario."""
GROUPS = len(CATEGORIES) * len(MED_TYPES)


@dataclass(frozen=True)
class Synthetic:
    """A block to generate (on whichever process evaluates it)."""

    spec: CohortSpec
    seed: int
    replication: int
    block: int

    def load(self) -> Block:
        return generate_block(self.spec, self.seed, self.replication, self.block)


@dataclass(frozen=True)
class Given:
    """A block of real claims, already read."""

    block: Block

    def load(self) -> Block:
        return self.block


Source = Synthetic | Given


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario over one block (or, once combined, a whole cohort)."""

    person: dict[str, I64]  # PERSON_MONEY (and a region's own funds, ``…_pay``) → per person
    groups: I64  # (len(GROUP_FIELDS), GROUPS): sums per category × med_type
    caps: dict[str, Bools]  # "layer.bucket" → per person: the cap was reached this year


@dataclass(frozen=True)
class BlockResult:
    """Every scenario over one block; ``person_id`` and ``category`` per person."""

    person_id: npt.NDArray[Any]
    category: I64
    claims: int
    outcomes: dict[str, ScenarioOutcome]


def evaluate(source: Source, policies: dict[str, CompiledPolicy]) -> BlockResult:
    """Settle one block under each policy (keyed by scenario id)."""
    block = source.load()
    outcomes = {name: _outcome(block, settle(block.claims, policy)) for name, policy in policies.items()}
    return BlockResult(block.claims.persons, block.category, len(block.claims), outcomes)


def _per_person(persons: int, person: I64, values: I64) -> I64:
    """Σ ``values`` per person: exact, sums stay far below 2**53 fen."""
    sums: I64 = np.bincount(person, weights=values, minlength=persons).astype(np.int64)
    return sums


def _amounts(result: SettledBatch) -> dict[str, I64]:
    claims = result.claims
    return {
        "medfee_sumamt": claims.medfee,
        "inscp_scp_amt": claims.inscp,
        "fulamt_ownpay_amt": claims.fulamt_ownpay,
        **result.payments,
        "fund_pay_sumamt": result.fund_pay_sumamt,
        "psn_part_amt": result.psn_part_amt,
    }


def _outcome(block: Block, result: SettledBatch) -> ScenarioOutcome:
    claims = result.claims
    amounts = _amounts(result)
    group = claims.category * len(MED_TYPES) + claims.med
    rows = [np.bincount(group, minlength=GROUPS).astype(np.int64)]
    rows += [_per_person(GROUPS, group, amounts[c]) for c in PERSON_MONEY]
    own = [o for o in result.policy.outputs if o not in PERSON_MONEY]  # a region's own funds
    kept = (*PERSON_MONEY, "fulamt_ownpay_amt", *own)  # 全自费: early warning's burden leaves it out
    person = {c: _per_person(block.persons, claims.person, amounts[c]) for c in kept}
    return ScenarioOutcome(person, np.vstack(rows), caps_reached(result, block.persons))


def caps_reached(result: SettledBatch, persons: int) -> dict[str, Bools]:
    """Per cap bucket ("layer.bucket"): persons whose payments reached the cap of their claim."""
    reached: dict[str, Bools] = {}
    for i, layer in enumerate(result.layers):
        table = result.policy.layer_table(layer.table_id)
        for name in table.buckets:
            reached[f"{layer.table_id}.{name}"] = np.zeros(persons, bool)
        for trace in result.traces(i):
            cap = trace.cap
            full = (cap < NO_LIMIT) & (trace.paid_before + trace.paid >= cap)
            who = result.claims.person[result.order[trace.rows[full]]]
            reached[f"{layer.table_id}.{table.buckets[trace.bucket]}"][who] = True
    return reached


def combine(results: list[BlockResult]) -> BlockResult:
    """Blocks in order → one result for the whole cohort (persons concatenated, groups summed)."""
    first = results[0]
    outcomes = {}
    for name in first.outcomes:
        parts = [r.outcomes[name] for r in results]
        outcomes[name] = ScenarioOutcome(
            person={c: np.concatenate([p.person[c] for p in parts]) for c in first.outcomes[name].person},
            groups=np.sum([p.groups for p in parts], axis=0, dtype=np.int64),
            caps={c: np.concatenate([p.caps[c] for p in parts]) for c in first.outcomes[name].caps},
        )
    person_id = np.concatenate([r.person_id for r in results])
    category = np.concatenate([r.category for r in results])
    return BlockResult(person_id, category, sum(r.claims for r in results), outcomes)


def partition(claims: ClaimTable, parts: int) -> list[Source]:
    """Real claims split by person into ``parts`` blocks (person code modulo ``parts``)."""
    owner = claims.person % parts
    return [Given(_block_of(claims, np.flatnonzero(owner == k))) for k in range(parts) if (owner == k).any()]


def _dense(ranks: I64) -> I64:
    """Ranks 0..n-1 in the same order (the engine's sort needs dense claim ranks)."""
    dense = np.empty(len(ranks), np.int64)
    dense[np.argsort(ranks, kind="stable")] = np.arange(len(ranks), dtype=np.int64)
    return dense


def _block_of(claims: ClaimTable, rows: I64) -> Block:
    """The claims at ``rows`` as a block; each person's category is that of their latest claim."""
    persons, person = np.unique(claims.person[rows], return_inverse=True)
    order = np.lexsort((claims.claim_rank[rows], claims.day[rows], person))
    last = order[np.r_[np.flatnonzero(np.diff(person[order])), len(order) - 1]]
    category = np.zeros(len(persons), np.int64)
    category[person[last]] = claims.category[rows][last]
    table = ClaimTable(
        claim_id=claims.claim_id[rows],
        claim_rank=_dense(claims.claim_rank[rows]),
        person=person.astype(np.int64),
        persons=claims.persons[persons],
        category=claims.category[rows],
        med=claims.med[rows],
        level=claims.level[rows],
        day=claims.day[rows],
        diagnosis=claims.diagnosis[rows],
        diagnoses=claims.diagnoses,
        accident=claims.accident[rows],
        medfee=claims.medfee[rows],
        fulamt_ownpay=claims.fulamt_ownpay[rows],
        overlmt_selfpay=claims.overlmt_selfpay[rows],
        preselfpay=claims.preselfpay[rows],
        flags=None if claims.flags is None else claims.flags[rows],
        birth=None if claims.birth is None else claims.birth[rows],
    )
    return Block(category, table)
