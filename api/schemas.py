"""Request and response bodies. Money crosses the wire as yuan strings with two decimals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from settlement.money import MAX_YUAN
from tiers.codes import Category, MedType


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals")
    return value


Yuan = Annotated[
    Decimal,
    Field(ge=0, le=MAX_YUAN, examples=["1234.56"]),
    AfterValidator(_two_places),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str),
]
"""An amount in yuan: a JSON string or number, ≥ 0, at most two decimals; sent back as a string."""

YuanOut = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]
"""An amount in yuan in a response (negative in a reversal), as a string with two decimals."""

Text = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityIn(Strict):
    category: Category
    valid_from: date
    valid_to: date | None = None
    source: Annotated[str, Field(max_length=64)] = ""

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
    name: Annotated[str, Field(max_length=64)] = ""
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
    med_type: MedType
    hospital_level: Literal[1, 2, 3]
    settle_date: date
    diagnosis: Annotated[str, Field(max_length=16, pattern=r"^[0-9A-Za-z.]*$")] = ""
    accident: bool = False
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


class AdjustmentOut(BaseModel):
    run_id: str
    output: str
    delta: YuanOut
    reason: str


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
    lines: list[LineOut]
    adjustments: list[AdjustmentOut] = Field(default_factory=list)


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
