"""A case as it is shown (service and command alike): its steps with the money each moved per fund,
what the whole case moved, and its clawback per fund."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from api.books import cases as books
from api.books import queries
from api.books.driver import Driver
from api.case_schemas import CaseOut, FundClawbackOut, FundMoneyOut, StepOut
from api.clawback import FUND_COLUMNS, statement
from settlement.money import yuan_of
from tiers.tables import CompiledPolicy


def _money(totals: dict[str, int]) -> list[FundMoneyOut]:
    return [FundMoneyOut(output=o, amount=yuan_of(v)) for o, v in sorted(totals.items())]


def _step_out(step: dict[str, Any], adjustments: list[dict[str, Any]]) -> StepOut:
    moved: dict[str, int] = defaultdict(int)
    for a in (a for a in adjustments if a["run_id"] in step["runs"]):
        moved[a["output"]] += a["delta"]
    recovered = None if step["output"] is None else FundMoneyOut(output=step["output"], amount=yuan_of(step["amount"]))
    return StepOut(step=step["step"], at=step["at"], actor=step["actor"], note=step["note"], runs=step["runs"],
                   moved=_money(moved), recovered=recovered)  # fmt: skip


def case_out(db: Driver, case_id: str, policy: CompiledPolicy) -> CaseOut:
    found = statement(db, case_id=case_id, policy=policy)
    case, steps = found.case, found.steps
    adjustments = books.run_adjustments(db, runs=[run for s in steps for run in s["runs"]])
    moved: dict[str, int] = defaultdict(int)
    for a in adjustments:
        moved[a["output"]] += a["delta"]
    person = queries.person(db, person_id=case["person_id"]) or {}
    post_hoc = books.post_hoc_paid(db, person_id=case["person_id"], year=case["year"])
    clawback = [
        FundClawbackOut(output=row["output"], **{c: yuan_of(int(row[c])) for c in FUND_COLUMNS[1:]})
        for row in found.funds.to_dict("records")
    ]
    return CaseOut(case_id=case["id"], person_id=case["person_id"], name=str(person.get("name") or ""),
                   year=case["year"], state=case["state"], category=case["category"],
                   effective_from=case["effective_from"], fast_track=case["fast_track"],
                   identity_id=case["identity_id"], steps=[_step_out(s, adjustments) for s in steps],
                   moved=_money(moved), clawback=clawback,
                   post_hoc=_money(post_hoc))  # fmt: skip
