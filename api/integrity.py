"""Book checks an operator (and the crash test) runs: do the stored rows agree with each other?

- Σ settlements (reversal rows are negative) + Σ adjustments == Σ accumulators, per person,
  year and fund, to the fen;
- every settlement has one line per layer of the policy (no half-written settlement);
- post-hoc payments (and second payouts) count under their program's fund and accumulator rows.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.models import Accumulator, Adjustment, PostHocPayment, Settlement, SettlementLine
from api.second_payout import program_id
from settlement.supplementary import funded_layer
from tiers.tables import CompiledPolicy

Totals = dict[tuple[str, int, str], int]  # (person, year, output) → fen


def _paid_by_settlements(session: Session, outputs: tuple[str, ...]) -> Totals:
    totals: Totals = defaultdict(int)
    for output in outputs:
        query = select(Settlement.person_id, Settlement.year, func.sum(getattr(Settlement, output)))
        for person, year, value in session.exec(query.group_by(col(Settlement.person_id), col(Settlement.year))):
            totals[(person, year, output)] += int(value or 0)
    rows = select(Adjustment.person_id, Adjustment.year, Adjustment.output, func.sum(Adjustment.delta))
    grouped = rows.group_by(col(Adjustment.person_id), col(Adjustment.year), col(Adjustment.output))
    for person, year, output, value in session.exec(grouped):
        totals[(person, year, output)] += int(value or 0)
    return totals


def _paid_post_hoc(session: Session, output_of: dict[str, str], totals: Totals) -> None:
    """Post-hoc payments are counted under their program's fund, like its accumulator rows."""
    rows = select(PostHocPayment.person_id, PostHocPayment.year, PostHocPayment.program, func.sum(PostHocPayment.paid))
    grouped = rows.group_by(col(PostHocPayment.person_id), col(PostHocPayment.year), col(PostHocPayment.program))
    for person, year, program, value in session.exec(grouped):
        totals[(person, year, output_of[program])] += int(value or 0)


def _paid_by_accumulators(session: Session, output_of: dict[str, str]) -> Totals:
    totals: Totals = defaultdict(int)
    rows = select(Accumulator.person_id, Accumulator.year, Accumulator.layer, func.sum(Accumulator.paid_cum))
    grouped = rows.group_by(col(Accumulator.person_id), col(Accumulator.year), col(Accumulator.layer))
    for person, year, layer, value in session.exec(grouped):
        totals[(person, year, output_of[layer])] += int(value or 0)
    return totals


def problems(session: Session, policy: CompiledPolicy) -> list[str]:
    """Every disagreement found (empty: the books are consistent)."""
    output_of = {layer.id: layer.output for layer in policy.layers}
    by_settlements = _paid_by_settlements(session, tuple(dict.fromkeys(output_of.values())))
    output_of |= {program.id: program.output for program in policy.policy.post_hoc}
    funded = funded_layer(policy.policy)
    if funded is not None:
        output_of[program_id(funded)] = funded.output
    _paid_post_hoc(session, output_of, by_settlements)
    by_accumulators = _paid_by_accumulators(session, output_of)
    found = [
        f"{k[0]}/{k[1]} {k[2]}: settlements + adjustments {by_settlements.get(k, 0)} fen"
        f" ≠ accumulators {by_accumulators.get(k, 0)} fen"
        for k in sorted(set(by_settlements) | set(by_accumulators))
        if by_settlements.get(k, 0) != by_accumulators.get(k, 0)
    ]
    lines = select(SettlementLine.setl_id, func.count()).group_by(col(SettlementLine.setl_id))
    counts = {setl_id: int(n) for setl_id, n in session.exec(lines)}
    for setl_id in session.exec(select(Settlement.setl_id)):
        if counts.get(setl_id, 0) != len(policy.layers):
            found.append(f"settlement {setl_id} has {counts.get(setl_id, 0)} lines, expected {len(policy.layers)}")
    return found
