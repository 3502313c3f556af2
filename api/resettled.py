"""What a re-settlement answers: its runs with their adjustments, and for a dry run who it would
leave owing or owed, per fund (:func:`api.clawback.preview`)."""

from __future__ import annotations

from api.case_schemas import BalanceOut, PreviewOut
from api.clawback import preview
from api.desk import today
from api.schemas import AdjustmentOut, ResettlementOut
from api.years import YearRun
from settlement.money import yuan_of
from tiers.tables import CompiledPolicy


def runs_out(runs: list[YearRun]) -> list[ResettlementOut]:
    return [
        ResettlementOut(
            run_id=run.run_id,
            person_id=run.person_id,
            year=run.year,
            claims=run.claims,
            adjustments=[
                AdjustmentOut(run_id=run.run_id, setl_id=s, output=o, delta=yuan_of(d), reason=run.reason)
                for s, o, d in run.adjustments
            ],
        )
        for run in runs
    ]


def preview_out(runs: list[YearRun], policy: CompiledPolicy, reversal: list[AdjustmentOut] | None = None) -> PreviewOut:
    """A dry run's answer: the runs and who they would leave owing or owed, per fund."""
    frame = preview(runs, policy, today(policy))
    money = ("owed_by_person", "owed_to_person", "due", "borne_by_fund")
    balances = [
        BalanceOut(person_id=str(row["person_id"]), year=int(row["year"]), output=str(row["output"]),
                   mode=str(row["mode"]), **{m: yuan_of(int(row[m])) for m in money})
        for row in frame.to_dict("records")
    ]  # fmt: skip
    return PreviewOut(runs=runs_out(runs), balances=balances, reversal=reversal or [])
