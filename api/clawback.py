"""A case's clawback statement (追回通知): what a revoked approval had paid, per settlement and fund,
what the policy asks back, what has been recorded as recovered and what is outstanding.

The money is the revocation's re-settlement (its adjustments, :mod:`settlement.clawback`), under
the policy's clawback rule in force on the day of the revocation; recoveries are the case's
``recover`` steps. Totals per fund over a year's cases serve the insurer and the assistance fund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from api.books import cases as books
from api.books.driver import Driver
from api.errors import Problem
from api.years import YearRun
from settlement.clawback import (
    ADJUSTMENT_COLUMNS,
    BALANCE_COLUMNS,
    ClawbackError,
    balances,
    fund_totals,
    mode_on,
    netted,
)
from tiers.clawback import rule_on
from tiers.tables import CompiledPolicy

FUND_COLUMNS = (
    "output", "owed_by_person", "owed_to_person", "due", "borne_by_fund", "recovered", "netted", "outstanding",
)  # fmt: skip
"""A statement's per-fund totals (fen)."""


@dataclass(frozen=True)
class ClawbackStatement:
    """A case's statement: the case, each revocation's mode and reference, every step, the adjustments of the
    settlements concerned (:data:`api.books.cases.ADJUSTMENT_FIELDS`), per-fund totals."""

    case: dict[str, Any]
    revocations: list[dict[str, Any]]  # at, actor, mode, reference
    steps: list[dict[str, Any]]  # every step of the case
    adjustments: list[dict[str, Any]]
    funds: pd.DataFrame  # FUND_COLUMNS


def _revocations(steps: list[dict[str, Any]], policy: CompiledPolicy) -> list[dict[str, Any]]:
    out = []
    for step in (s for s in steps if s["step"] == "revoke"):
        day = step["at"].astimezone(ZoneInfo(policy.policy.timezone)).date()
        try:
            mode = mode_on(policy.policy.clawback, day)
        except ClawbackError as exc:
            raise Problem(422, "no_clawback_rule", str(exc), "policy") from exc
        rule = rule_on(policy.policy.clawback, day)
        out.append({**step, "mode": mode, "reference": rule.reference if rule else ""})
    return out


def _recovered(steps: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for step in (s for s in steps if s["step"] == "recover"):
        totals[step["output"]] = totals.get(step["output"], 0) + int(step["amount"])
    return totals


def _funds(
    revocations: list[dict[str, Any]],
    adjustments: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    later: dict[str, int],
) -> pd.DataFrame:
    """Per fund: due, borne, recovered by hand, netted against what the fund later owed or paid the
    person (``later``, under ``net_against_later``), outstanding."""
    frame = pd.DataFrame(adjustments, columns=list(books.ADJUSTMENT_FIELDS))
    parts = [balances(frame[frame["run_id"].isin(r["runs"])], r["mode"]) for r in revocations]
    both = pd.concat(parts) if parts else pd.DataFrame(columns=list(BALANCE_COLUMNS))
    totals = fund_totals(both).set_index("output")
    totals["recovered"] = pd.Series(_recovered(steps), dtype="int64").reindex(totals.index, fill_value=0)
    nettable = both[both["mode"] == "net_against_later"].groupby("output")["due"].sum()
    nettable = (nettable.reindex(totals.index, fill_value=0) - totals["recovered"]).clip(lower=0)
    totals["netted"] = netted(nettable.astype("int64"), pd.Series(later, dtype="int64"))
    totals["outstanding"] = totals["due"] - totals["recovered"] - totals["netted"]
    return totals.reset_index()[list(FUND_COLUMNS)]


def _later(
    db: Driver, case: dict[str, Any], revocations: list[dict[str, Any]], policy: CompiledPolicy
) -> dict[str, int]:
    """What the funds owed or paid the person since the first revocation that nets (none: nothing)."""
    netting = [r for r in revocations if r["mode"] == "net_against_later"]
    if not netting:
        return {}
    runs = {run for r in revocations for run in r["runs"]}
    programs = {p.id: p.output for p in policy.policy.post_hoc}
    since = min(r["at"] for r in netting)
    return books.paid_to_person_since(db, person_id=case["person_id"], since=since, runs=runs, programs=programs)


def statement(db: Driver, *, case_id: str, policy: CompiledPolicy) -> ClawbackStatement:
    """The case's clawback statement (404: no case; empty when it was never revoked)."""
    found = books.case(db, case_id=case_id)
    if found is None:
        raise Problem(404, "case_not_found", f"no case {case_id}", "case_id")
    steps = books.steps(db, case_id=case_id)
    revocations = _revocations(steps, policy)
    adjustments = books.run_adjustments(db, runs=[run for r in revocations for run in r["runs"]])
    later = _later(db, found, revocations, policy)
    return ClawbackStatement(found, revocations, steps, adjustments, _funds(revocations, adjustments, steps, later))


def outstanding(found: ClawbackStatement, output: str) -> int:
    """What is still to recover for fund ``output`` (fen)."""
    rows = found.funds[found.funds["output"] == output]
    return int(rows["outstanding"].sum())


def preview(runs: list[YearRun], policy: CompiledPolicy, day: date) -> pd.DataFrame:
    """Who the runs leave owing or owed, per person-year and fund, under the rule in force on
    ``day`` (:data:`settlement.clawback.BALANCE_COLUMNS`; mode ``undeclared`` when the policy
    declares none: all of it shown as due)."""
    rows = [(run.person_id, run.year, o, d) for run in runs for _, o, d in run.adjustments]
    try:
        mode = mode_on(policy.policy.clawback, day)
    except ClawbackError:
        mode = "undeclared"
    return balances(pd.DataFrame(rows, columns=list(ADJUSTMENT_COLUMNS)), mode)
