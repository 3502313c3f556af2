"""Request and response bodies of cases, clawback statements and dry runs (money as yuan strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas import NO_CONTROL, AdjustmentOut, ResettlementOut, Strict, Yuan, YuanOut

Note = Annotated[str, Field(max_length=500, pattern=NO_CONTROL)]


class CaseIn(Strict):
    person_id: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_CONTROL)]
    year: Annotated[int, Field(ge=1900, le=2200)]
    state: Literal["warned", "applied"] = "warned"
    """How the case starts: from a warning, or from the person's own application (依申请)."""
    note: Note = ""


class StepIn(Strict):
    note: Note = ""


class ApprovalIn(Strict):
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    effective_from: date
    """From when the identity counts (may be in the past: Binhai "从纳入低保那一天起")."""
    valid_to: date | None = None
    fast_track: bool = False
    """容缺审批: approved on a credit promise before the household checks come back."""
    note: Note = ""

    @model_validator(mode="after")
    def _period(self) -> ApprovalIn:
        if self.valid_to is not None and self.valid_to < self.effective_from:
            raise ValueError("valid_to is before effective_from")
        return self


class RecoveryIn(Strict):
    output: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    """The fund the money returns to (its payment column, e.g. ``maf_pay``)."""
    amount: Yuan
    note: Note = ""


class FundMoneyOut(BaseModel):
    output: str
    amount: YuanOut


class StepOut(BaseModel):
    step: str
    at: datetime
    actor: str
    note: str
    runs: list[str]
    moved: list[FundMoneyOut]
    """What the step's re-settlements adjusted, per fund (+ the fund pays more)."""
    recovered: FundMoneyOut | None = None


class FundClawbackOut(BaseModel):
    output: str
    owed_by_person: YuanOut
    owed_to_person: YuanOut
    due: YuanOut
    borne_by_fund: YuanOut
    recovered: YuanOut
    netted: YuanOut
    """Kept against what the fund later owed or paid the person (``net_against_later``)."""
    outstanding: YuanOut


class CaseOut(BaseModel):
    case_id: str
    person_id: str
    name: str
    year: int
    state: str
    category: str | None
    effective_from: date | None
    fast_track: bool
    identity_id: int | None
    steps: list[StepOut]
    moved: list[FundMoneyOut]
    clawback: list[FundClawbackOut]
    post_hoc: list[FundMoneyOut] = []
    """What the year-end programs paid the person-year, per program (``output``: the program's id)."""


class BalanceOut(BaseModel):
    person_id: str
    year: int
    output: str
    owed_by_person: YuanOut
    owed_to_person: YuanOut
    mode: str
    due: YuanOut
    borne_by_fund: YuanOut


class PreviewOut(BaseModel):
    """A dry run: what the act would adjust and who would owe or be owed, per fund; nothing kept."""

    dry_run: Literal[True] = True
    runs: list[ResettlementOut]
    balances: list[BalanceOut]
    reversal: list[AdjustmentOut] = []
    """For a reversal: what it takes back of the claim, per fund."""
