"""Request and response bodies. Money crosses the wire as yuan strings with two decimals."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    model_validator,
)

from settlement.money import MAX_YUAN

_YUAN_TEXT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def _yuan_input(value: Any) -> Any:
    """An amount as sent: yuan text of ASCII digits, an integer, or an exact decimal number (JSON
    numbers are read as ``Decimal``, :mod:`api.jsonbody`) — never a boolean or a float."""
    if isinstance(value, bool | float):
        raise ValueError(f"an amount in yuan, not a {type(value).__name__}")
    if isinstance(value, str):
        if not _YUAN_TEXT.fullmatch(value):
            raise ValueError("yuan as ASCII digits with at most two decimals, e.g. 1234.56")
        return Decimal(value)
    return value


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals")
    return value


def _not_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number, not a boolean")
    return value


Yuan = Annotated[
    Decimal,
    BeforeValidator(_yuan_input),
    Field(ge=0, le=MAX_YUAN, examples=["1234.56"]),
    AfterValidator(_two_places),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str),
]
"""An amount in yuan: a JSON string or number, ≥ 0, at most two decimals; sent back as a string."""
_SIGNED_TEXT = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")


def _signed_input(value: Any) -> Any:
    if isinstance(value, bool | float):
        raise ValueError(f"an amount in yuan, not a {type(value).__name__}")
    if isinstance(value, str):
        if not _SIGNED_TEXT.fullmatch(value):
            raise ValueError("yuan as ASCII digits with at most two decimals, e.g. -1234.56")
        return Decimal(value)
    return value


SignedYuan = Annotated[
    Decimal, BeforeValidator(_signed_input), Field(ge=-MAX_YUAN, le=MAX_YUAN), AfterValidator(_two_places)
]
"""An amount in yuan that may be negative (totals net of reversals)."""
HospitalLevel = Annotated[int, BeforeValidator(_not_boolean), Field(ge=1, le=99)]
"""A hospital tier (the policy declares which: 1 一级及以下, 2 二级, 3 三级 by default)."""

YuanOut = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]
"""An amount in yuan in a response (negative in a reversal), as a string with two decimals."""

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
"""Text without control characters (PostgreSQL refuses NUL in text; none belongs in a name)."""
Text = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
VisitCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-Za-z]{1,10}$",
        description="医疗类别 med_type: one of the policy's visit types (by default 11, 14, 21; a region may "
        "declare more, e.g. 13 急诊留观 settled as 21)",
        examples=["21"],
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityIn(Strict):
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    """A relief category of the service's policy (the national ten, or one of its own)."""
    valid_from: date
    valid_to: date | None = None
    source: Annotated[str, Field(max_length=64, pattern=NO_CONTROL)] = ""

    @model_validator(mode="after")
    def _period(self) -> IdentityIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class IdentityOut(IdentityIn):
    id: int
    revoked: bool


class PersonIn(Strict):
    person_id: Text
    name: Annotated[str, Field(max_length=64, pattern=NO_CONTROL)] = ""
    id_number: Annotated[str, Field(max_length=18, pattern=r"^[0-9A-Za-z]*$")] = ""
    identities: list[IdentityIn] = Field(default_factory=list, max_length=50)


class PersonOut(BaseModel):
    person_id: str
    name: str
    id_number: str  # masked
    identities: list[IdentityOut]


class ClaimIn(Strict):
    """One claim at discharge (the engine's claim contract; the category comes from the person's identities)."""

    claim_id: Text
    person_id: Text
    med_type: VisitCode
    hospital_level: HospitalLevel
    settle_date: date
    admission_date: date | None = None
    """入院日期 (default: the settle_date); a policy dated by admission takes the claim's
    parameters, identities and year from it."""
    diagnosis: Annotated[str, Field(max_length=16, pattern=r"^[0-9A-Za-z.]*$")] = ""
    accident: StrictBool = False
    out_of_area: StrictBool = False
    """异地就医: care outside the insured region (统筹区)."""
    out_of_province: StrictBool = False
    """跨省: care outside the insured region's province."""
    referral: StrictBool = False
    """规范转诊: the admission or visit comes with a regular referral."""
    emergency: StrictBool = False
    """急诊抢救."""
    medfee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan = Decimal(0)
    overlmt_selfpay: Yuan = Decimal(0)
    preselfpay_amt: Yuan = Decimal(0)

    def components_problem(self) -> str | None:
        """Why the amounts do not add up (checked by the service, reported on ``medfee_sumamt``)."""
        if self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt > self.medfee_sumamt:
            return "fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt exceed medfee_sumamt"
        return None


class LineOut(BaseModel):
    """One layer of a settlement and why it paid what it did (``cap``/``cap_left`` null: no cap)."""

    layer: str
    output: str
    fund_pay_type: str
    rule: str
    bucket: str
    version: str
    bands: str
    base: YuanOut
    deductible: YuanOut
    deductible_applied: YuanOut
    raw_amount: YuanOut
    cap: YuanOut | None
    cap_used_before: YuanOut
    paid: YuanOut
    cap_left: YuanOut | None
    claim_cap: YuanOut | None = None
    """单次限额: the most one claim of the rule is paid (null: none)."""


class AdjustmentOut(BaseModel):
    run_id: str
    setl_id: str | None = None
    output: str
    delta: YuanOut
    reason: str


class EarlyWarningOut(BaseModel):
    group: str
    group_name: str
    burden: YuanOut
    threshold: YuanOut
    crossed: bool


class SettlementOut(BaseModel):
    setl_id: str | None  # None for a pre-settlement
    kind: Literal["pre_settlement", "settlement", "reversal"]
    status: str
    reverses: str | None = None
    claim_id: str
    person_id: str
    institution_id: str
    category: str
    policy_id: str
    settle_date: date
    med_type: str
    hospital_level: int
    medfee_sumamt: YuanOut
    fulamt_ownpay_amt: YuanOut
    overlmt_selfpay: YuanOut
    preselfpay_amt: YuanOut
    inscp_scp_amt: YuanOut
    act_pay_dedc: YuanOut
    hifp_pay: YuanOut
    hifmi_pay: YuanOut
    maf_pay: YuanOut
    supp_pay: YuanOut
    fund_pay_sumamt: YuanOut
    psn_part_amt: YuanOut
    funds: dict[str, YuanOut] = Field(default_factory=dict)
    """What every layer of the policy paid, by output column in settlement order (the standard four
    and a region's own funds, e.g. ``charity_pay``), as its line says."""
    lines: list[LineOut]
    adjustments: list[AdjustmentOut] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    """What the hospital should be told as the claim is settled (not stored: a read shows none)."""
    early_warning: EarlyWarningOut | None = None
    """Early warning (预警监测) as the claim is settled, when the person is watched and the year's
    burden has reached the policy's line (``crossed``: with this claim)."""


class CapOut(BaseModel):
    rule: str
    cap: YuanOut | None
    cap_left: YuanOut | None


class BucketOut(BaseModel):
    layer: str
    bucket: str
    base_cum: YuanOut
    paid_cum: YuanOut
    claims: int
    caps: list[CapOut]


class AccumulatorsOut(BaseModel):
    person_id: str
    year: int
    category: str
    buckets: list[BucketOut]


class ResettlementOut(BaseModel):
    run_id: str
    person_id: str
    year: int
    claims: int
    adjustments: list[AdjustmentOut]
