"""Book checks an operator (and the tests) run: do the stored rows agree with each other?

- Σ settlements (reversal rows are negative) + Σ adjustments == Σ accumulators, per person, year
  and fund, to the fen; post-hoc payments (and second payouts) count under their program's fund
  like their accumulator rows; a fund whose accumulation period is not the calendar year (its
  accumulators' ``year`` is its period's, a settlement's its calendar year) over all the person's
  years;
- every settlement has one line per layer of the policy (no half-written settlement);
- a reversed settlement and its reversal net to zero in every fund, with its adjustments;
- no institution has two standing settlements of one claim.
"""

from __future__ import annotations

from collections import defaultdict

from api.books import queries
from api.books.driver import Driver, Statement
from settlement.supplementary import funded_layer, second_payout_program
from tiers.codes import PAYMENT_COLUMNS
from tiers.tables import CompiledPolicy

Totals = dict[tuple[str, int, str], int]  # (person, year, output) → fen

_SUMS = ", ".join(f"sum({o})" for o in PAYMENT_COLUMNS)
_SETTLED = Statement.of(
    f"SELECT person_id, year, {_SUMS} FROM settlement GROUP BY person_id, year"  # noqa: S608  (names from the models)
)
_ADJUSTED = Statement.of("SELECT person_id, year, output, sum(delta) FROM adjustment GROUP BY person_id, year, output")
_POSTED = Statement.of(
    "SELECT person_id, year, program, sum(paid) FROM posthocpayment GROUP BY person_id, year, program"
)
_ACCUMULATED = Statement.of(
    "SELECT person_id, year, layer, sum(paid_cum) FROM accumulator GROUP BY person_id, year, layer"
)
_LINES = Statement.of(
    "SELECT s.setl_id, count(l.id) FROM settlement s LEFT JOIN settlementline l ON l.setl_id = s.setl_id "
    "GROUP BY s.setl_id"
)
_NET_SUMS = ", ".join(f"s.{o} + r.{o}" for o in PAYMENT_COLUMNS)
_NETS = Statement.of(
    f"SELECT s.setl_id, {_NET_SUMS} FROM settlement s "  # noqa: S608  (names from the models)
    "JOIN settlement r ON r.setl_id = s.reversed_by WHERE s.status = 'reversed'"
)
_REVERSED_ADJUSTED = Statement.of(
    "SELECT a.setl_id, a.output, sum(a.delta) FROM adjustment a JOIN settlement s ON s.setl_id = a.setl_id "
    "WHERE s.status = 'reversed' GROUP BY a.setl_id, a.output"
)
_TWICE = Statement.of(
    "SELECT institution_id, claim_id, count(*) FROM settlement WHERE kind = 'settlement' AND status = 'settled' "
    "GROUP BY institution_id, claim_id HAVING count(*) > 1"
)


def _paid(db: Driver, outputs: dict[str, str], own_funds: list[queries.OwnFundPaid]) -> Totals:
    """What settlements (``own_funds``: their lines of a region's own funds), adjustments and
    post-hoc payments paid, per person, year and fund."""
    totals: Totals = defaultdict(int)
    for person, year, *sums in db.rows(_SETTLED, {}):
        for output, value in zip(PAYMENT_COLUMNS, sums, strict=True):
            totals[(person, int(year), output)] += int(value or 0)
    for own in own_funds:
        totals[(own.person_id, own.year, own.output)] += own.paid
    for person, year, output, value in db.rows(_ADJUSTED, {}):
        totals[(person, int(year), str(output))] += int(value or 0)
    for person, year, program, value in db.rows(_POSTED, {}):
        totals[(person, int(year), outputs.get(str(program), f"program {program}"))] += int(value or 0)
    return totals


def _accumulated(db: Driver, outputs: dict[str, str]) -> Totals:
    totals: Totals = defaultdict(int)
    for person, year, layer, value in db.rows(_ACCUMULATED, {}):
        totals[(person, int(year), outputs.get(str(layer), f"layer {layer}"))] += int(value or 0)
    return totals


def _outputs(policy: CompiledPolicy) -> dict[str, str]:
    """Each layer's and each post-hoc program's fund (output column)."""
    outputs = {layer.id: layer.output for layer in policy.layers}
    outputs |= {program.id: program.output for program in policy.policy.post_hoc}
    funded = funded_layer(policy.policy)
    if funded is not None:
        outputs[second_payout_program(funded)] = funded.output
    return outputs


def _own_funds_unnetted(own_funds: list[queries.OwnFundPaid], adjusted: dict[tuple[str, str], int]) -> list[str]:
    """A region's own funds: a reversed settlement and its reversal (two rows of one claim) net to
    zero with the settlement's adjustments."""
    rows: dict[tuple[str, str], list[int]] = defaultdict(list)
    for own in own_funds:
        rows[(own.claim, own.output)].append(own.paid)
    return [
        f"reversed settlement {claim} still nets {sum(paid) + adjusted.get((claim, output), 0)} fen in {output}"
        for (claim, output), paid in sorted(rows.items())
        if len(paid) > 1 and sum(paid) + adjusted.get((claim, output), 0)
    ]


def _over_years(totals: Totals, outputs: set[str]) -> Totals:
    """``totals`` with the years of ``outputs`` summed (year 0: all years)."""
    if not outputs:
        return totals
    out: Totals = defaultdict(int)
    for (person, year, output), value in totals.items():
        out[(person, 0 if output in outputs else year, output)] += value
    return out


def problems(db: Driver, policy: CompiledPolicy) -> list[str]:
    """Every disagreement found (empty: the books are consistent)."""
    outputs, own_funds = _outputs(policy), queries.own_funds_paid(db, "all")
    spread = {layer.output for layer in policy.policy.layers if layer.own_year}
    paid, accumulated = (_over_years(t, spread) for t in (_paid(db, outputs, own_funds), _accumulated(db, outputs)))
    found = [
        f"{k[0]}/{k[1] or 'all years'} {k[2]}: settlements + adjustments {paid.get(k, 0)} fen"
        f" ≠ accumulators {accumulated.get(k, 0)} fen"
        for k in sorted(set(paid) | set(accumulated))
        if paid.get(k, 0) != accumulated.get(k, 0)
    ]
    expected = len(policy.layers)
    found += [
        f"settlement {s} has {n} lines, expected {expected}" for s, n in db.rows(_LINES, {}) if int(n) != expected
    ]
    adjusted: dict[tuple[str, str], int] = {(str(s), str(o)): int(d) for s, o, d in db.rows(_REVERSED_ADJUSTED, {})}
    for setl_id, *nets in db.rows(_NETS, {}):
        for output, net in zip(PAYMENT_COLUMNS, nets, strict=True):
            left = int(net) + adjusted.get((str(setl_id), output), 0)
            if left:
                found.append(f"reversed settlement {setl_id} still nets {left} fen in {output}")
    found += _own_funds_unnetted(own_funds, adjusted)
    found += [f"institution {i} has {n} standing settlements of claim {c}" for i, c, n in db.rows(_TWICE, {})]
    return found
