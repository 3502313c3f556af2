"""The policy file, as pydantic models (``extra="forbid"`` everywhere).

A policy is a list of layers in settlement order; a layer is a list of rules; the first rule
whose ``when`` matches a claim settles it in that layer. A rule says which deductible
(起付线), which marginal bands and ratios (分段比例), which annual cap (封顶线) and which cap
bucket apply, with category tilts (倾斜) on top. Every number is a dated parameter
(:mod:`tiers.params`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from tiers.clawback import Clawback
from tiers.codes import CATEGORIES, CLAIM_FLAGS, HOSPITAL_LEVELS, PAYMENT_COLUMNS, MedType
from tiers.declarations import (
    AGE_FLAG,
    ENGINE_VISIT_TYPES,
    VISIT_CODE,
    AccumulationPeriod,
    AgeBand,
    CategoryCode,
    ClaimFlags,
    DiseaseList,
    Funding,
    HospitalTier,
    IdentityCodes,
    ReferenceFigure,
    ReliefCategory,
    VisitType,
)
from tiers.declarations import Strict as _Strict
from tiers.declarations import check_id as _check_id
from tiers.early_warning import EarlyWarning
from tiers.params import (
    Amount,
    LevelAmount,
    LevelOptionalAmount,
    LevelRatio,
    Points,
    Ratio,
)
from tiers.policy_checks import category_problems, tier_problems, when_problems

__all__ = [
    "ENGINE_VISIT_TYPES", "Band", "CategoryCode", "ClaimFlags", "Deductible", "DiseaseList", "Funding",
    "HospitalTier", "IdentityCodes", "Layer", "Policy", "PostHoc", "ReferenceFigure", "ReliefCategory", "Rule",
    "Tilt", "VisitType", "When",
]  # fmt: skip


class When(_Strict):
    """Which claims a rule settles. Unset fields match everything; ``any_of`` is an OR."""

    med_type: tuple[MedType, ...] | None = None
    category: tuple[CategoryCode, ...] | None = None
    """Relief categories: the national ten (:data:`tiers.codes.CATEGORIES`) and the policy's own."""
    hospital_level: tuple[Annotated[int, Field(ge=1, le=99)], ...] | None = None
    """Hospital tiers (the policy's ``hospital_tiers``; default 1, 2, 3)."""
    diagnosis_in: str | None = None
    diagnosis_not_in: str | None = None
    accident: bool | None = None
    out_of_area: bool | None = None
    """异地就医: the claim's care is outside the insured region (统筹区; claim column ``out_of_area``)."""
    out_of_province: bool | None = None
    """跨省就医: outside the insured region's province (claim column ``out_of_province``)."""
    referral: bool | None = None
    """规范转诊: the claim comes with a regular referral (claim column ``referral``)."""
    emergency: bool | None = None
    """急诊抢救: an emergency (claim column ``emergency``)."""
    age_band: tuple[str, ...] | None = None
    """The person's age on the claim's date within one of these of the policy's ``age_bands``."""
    any_of: tuple[When, ...] | None = None

    def flags(self) -> set[str]:
        """The claim attributes (:data:`tiers.codes.CLAIM_FLAGS`) and age bands (``age:<band>``) it
        tests, ``any_of`` included."""
        found = {f for f in CLAIM_FLAGS if getattr(self, f) is not None} | {AGE_FLAG + b for b in self.age_band or ()}
        for sub in self.any_of or ():
            found |= sub.flags()
        return found

    def disease_lists(self) -> set[str]:
        names = {n for n in (self.diagnosis_in, self.diagnosis_not_in) if n}
        for sub in self.any_of or ():
            names |= sub.disease_lists()
        return names


class Deductible(_Strict):
    """起付线: per claim (per admission) or per year on the cumulative base of the bucket."""

    amount: LevelAmount
    per: Literal["claim", "year"] = "claim"
    repeat_factor: Ratio | None = None
    """Per-claim only: factor on the deductible from the person's 2nd claim in the bucket in a year."""

    @model_validator(mode="after")
    def _repeat_only_per_claim(self) -> Self:
        if self.repeat_factor is not None and self.per != "claim":
            raise ValueError("repeat_factor applies only to a per-claim deductible")
        return self


class Band(_Strict):
    """A marginal band: ``ratio`` on the base from ``from`` up to the next band's ``from``.

    The first band has no ``from``: it starts at the deductible. In ``absolute`` mode the later
    ``from`` are cumulative amounts; in ``relative`` mode they are amounts above the deductible.
    """

    from_: Amount | None = Field(default=None, alias="from")
    ratio: LevelRatio


class Tilt(_Strict):
    """倾斜: adjustments for some relief categories on top of a rule."""

    categories: tuple[CategoryCode, ...] = Field(min_length=1)
    deductible_factor: Ratio | None = None
    ratio_add: Points | None = None
    cap_lifted: bool = False
    reference: str
    assumption: str | None = None


class Rule(_Strict):
    """One way a layer pays: deductible, bands, cap and bucket for the claims it matches."""

    id: str
    name: str | None = None
    when: When
    bucket: str
    reference: str
    assumption: str | None = None
    deductible: Deductible | None = None
    ratio: LevelRatio | None = None
    bands: tuple[Band, ...] | None = None
    band_mode: Literal["absolute", "relative"] = "absolute"
    cap: LevelOptionalAmount
    """Annual cap of the bucket for claims of this rule (null: no cap)."""
    claim_cap: LevelOptionalAmount | None = None
    """单次限额: the most one claim (a visit, an admission) of this rule is paid, beside the annual
    cap (null or absent: none). A tilt's ``cap_lifted`` lifts the annual cap only."""
    tilts: tuple[Tilt, ...] = ()
    cap_bucket: str | None = None
    """The bucket whose annual cap the rule's payments count against, where it is not ``bucket``:
    deductibles kept separately (``bucket`` per tier, ``per: year``) under one shared cap (Beijing
    2017 细则 Art. 20: outpatient 一级 100 / 二级及以上 550 "分别计算", one 3,000 cap)."""

    _id = field_validator("id", "bucket")(_check_id)

    @field_validator("cap_bucket")
    @classmethod
    def _cap_bucket_id(cls, value: str | None) -> str | None:
        return None if value is None else _check_id(value)

    @property
    def capped_in(self) -> str:
        """The bucket the rule's payments count against (its ``cap_bucket``, else its ``bucket``)."""
        return self.cap_bucket or self.bucket

    @model_validator(mode="after")
    def _ratio_or_bands(self) -> Self:
        if (self.ratio is None) == (self.bands is None):
            raise ValueError("give either 'ratio' (one band) or 'bands', not both or neither")
        if self.bands is not None:
            if not self.bands:
                raise ValueError("'bands' needs at least one band")
            if self.bands[0].from_ is not None:
                raise ValueError("the first band starts at the deductible: omit its 'from'")
            if any(b.from_ is None for b in self.bands[1:]):
                raise ValueError("every band after the first needs 'from'")
        seen: set[str] = set()
        for tilt in self.tilts:
            overlap = seen & set(tilt.categories)
            if overlap:
                raise ValueError(f"categories {sorted(overlap)} appear in two tilts")
            seen |= set(tilt.categories)
        return self

    def band_list(self) -> tuple[Band, ...]:
        """The rule's bands; a plain ``ratio`` is one band from the deductible."""
        if self.bands is not None:
            return self.bands
        assert self.ratio is not None
        return (Band.model_construct(from_=None, ratio=self.ratio),)


_OUTPUT = re.compile(r"^[a-z][a-z0-9_]{0,35}_pay$")
NHSA_FIELDS = {"hifp_pay": "hifp_pay", "hifmi_pay": "hifmi_pay", "maf_pay": "maf_pay", "supp_pay": "oth_pay"}
"""The platform's setlinfo field each standard output is reported under (other layers: ``oth_pay``
unless they name theirs)."""


def _check_output(value: str) -> str:
    if not _OUTPUT.match(value):
        raise ValueError(f"{value!r}: a fund's output column is lower-case letters, digits and '_' ending in '_pay'")
    return value


class Layer(_Strict):
    """One fund in the cascade; pays from what earlier layers left of the in-policy amount."""

    id: str
    name: str
    output: str
    """The column its payments are reported in: one of the standard four (``hifp_pay``,
    ``hifmi_pay``, ``maf_pay``, ``supp_pay``) or a fund of the region's own (``charity_pay``)."""
    fund_pay_type: str | None = None
    fund_pay_type_name: str | None = None
    nhsa_field: str | None = None
    """The platform's setlinfo field the layer is reported under (default: ``hifmi_pay`` for
    ``hifmi_pay``, …, ``oth_pay`` for ``supp_pay`` and for a region's own funds)."""
    rules: tuple[Rule, ...] = Field(min_length=1)
    funding: Funding | None = None
    assumption: str | None = None
    period: AccumulationPeriod | None = None
    """The year its accumulators run over (default: the calendar year)."""

    _id = field_validator("id")(_check_id)
    _output = field_validator("output")(_check_output)

    @property
    def period_start(self) -> tuple[int, int]:
        """(month, day) its accumulation period starts on each year."""
        return self.period.month_day if self.period else (1, 1)

    @property
    def own_year(self) -> AccumulationPeriod | None:
        """Its period, where it is not the calendar year."""
        return self.period if self.period_start != (1, 1) else None

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        ids = [r.id for r in rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule ids {sorted(dup)}")
        return rules

    def buckets(self) -> tuple[str, ...]:
        """Buckets in first-use order: each rule's ``bucket``, then its ``cap_bucket`` if it has one."""
        return tuple(dict.fromkeys(b for r in self.rules for b in (r.bucket, r.capped_in)))

    def platform_field(self) -> str:
        """The setlinfo field the platform reports this layer's payments under."""
        return self.nhsa_field or NHSA_FIELDS.get(self.output, "oth_pay")


class PostHoc(Layer):
    """Assistance settled once a year over a person-year's settlements (倾斜救助, 依申请救助).

    Its rules see one "claim" per person and year whose amount is the burden still left: of the
    in-policy amount after layers 1–3 (``base: after_assistance``) or after every layer
    (``after_all_layers``), plus the bill parts it ``adds``; deductible, bands, ratio and cap work
    as in any layer.
    """

    base: Literal["after_assistance", "after_all_layers"]
    adds: tuple[Literal["preselfpay", "overlmt_selfpay"], ...] = ()
    """Bill parts the base adds to what is left of the in-policy amount: 先行自付 (乙类, 自付二) or
    超限价, where the program's text counts them (e.g. Beijing 9号: "合规医疗费用（包括自付一和自付二）")."""
    counts: ClaimFlags | None = None
    """Only the burden of these claims counts (倾斜救助 "规范转诊且在省域内就医": ``{referral: true,
    out_of_province: false}``); all of the person-year's claims by default."""
    on_application: bool = False
    """依申请: only person-years that applied and were approved are paid (the service's approved cases;
    a batch run's ``--applicants``); else everybody eligible."""


class Policy(_Strict):
    """A region's whole rule set: disease lists and layers, valid from a date."""

    id: str
    name: str
    region: str
    insutype: str = "390"
    timezone: str = "Asia/Shanghai"
    """The region's time zone (IANA): what "today" is for the service settling under the policy."""
    valid_from: date
    dated_by: Literal["settlement", "admission"] = "settlement"
    """What dates a claim — the parameters in force, the identities held, the year it accumulates in:
    its settle_date, or its admission (a stay from December into January belongs to the year it
    began; Binhai "从纳入低保那一天起": the identity held on admission)."""
    reference: str
    notes: str | None = None
    assumptions: tuple[str, ...] = ()
    disease_lists: dict[str, DiseaseList] = Field(default_factory=dict)
    reference_figures: dict[str, ReferenceFigure] = Field(default_factory=dict)
    age_bands: dict[str, AgeBand] = Field(default_factory=dict)
    visit_types: dict[str, VisitType] = Field(default_factory=dict)
    """The visit types claims may carry (default: the engine's 11, 14 and 21)."""
    relief_categories: dict[str, ReliefCategory] = Field(default_factory=dict)
    """The region's own relief categories (code → name, reference), after the national ten."""
    category_names: dict[CategoryCode, str] = Field(default_factory=dict)
    """The region's names of relief categories where they differ from the national ones
    (:data:`tiers.codes.CATEGORY_NAMES`), e.g. Beijing's 特困供养人员."""
    hospital_tiers: dict[Annotated[int, Field(ge=1, le=99)], HospitalTier] = Field(default_factory=dict)
    """The hospital tiers claims may carry (``hospital_level``) and their names (default: 1 一级及以下,
    2 二级, 3 三级). Every ``by_level`` names exactly these."""
    layers: tuple[Layer, ...] = Field(min_length=1)
    post_hoc: tuple[PostHoc, ...] = ()
    identity_codes: IdentityCodes | None = None
    early_warning: EarlyWarning | None = None
    clawback: Clawback = ()

    _id = field_validator("id")(_check_id)

    @field_validator("reference_figures", "relief_categories", "age_bands")
    @classmethod
    def _names(cls, named: dict[str, Any]) -> dict[str, Any]:
        for name in named:
            _check_id(name)
        return named

    @field_validator("visit_types")
    @classmethod
    def _visit_codes(cls, types: dict[str, VisitType]) -> dict[str, VisitType]:
        for code, visit in types.items():
            if not VISIT_CODE.match(code):
                raise ValueError(f"visit type {code!r}: a code is 1–10 letters or digits")
            if visit.settles_as is None and code not in ENGINE_VISIT_TYPES:
                raise ValueError(f"visit type {code!r}: give settles_as (one of {sorted(ENGINE_VISIT_TYPES)})")
        return types

    def flags(self) -> tuple[str, ...]:
        """The claim attributes its rules test (in :data:`tiers.codes.CLAIM_FLAGS` order), then the
        age bands they name (``age:<band>``, in declaration order)."""
        tested = {f for layer in (*self.layers, *self.post_hoc) for rule in layer.rules for f in rule.when.flags()}
        ages = tuple(AGE_FLAG + band for band in self.age_bands)
        return tuple(f for f in (*CLAIM_FLAGS, *ages) if f in tested)

    def categories(self) -> tuple[str, ...]:
        """Every relief category of the policy: the national ten, then its own (the engine's codes
        are positions in this tuple)."""
        return (*CATEGORIES, *self.relief_categories)

    def tiers(self) -> tuple[int, ...]:
        """The hospital tiers claims may carry, in order (default 1, 2, 3)."""
        return tuple(sorted(self.hospital_tiers)) if self.hospital_tiers else HOSPITAL_LEVELS

    def settles_as(self) -> dict[str, str]:
        """Each visit type a claim may carry → the engine's visit type its rules match."""
        if not self.visit_types:
            return {code: code for code in ENGINE_VISIT_TYPES}
        return {code: str(v.settles_as or code) for code, v in self.visit_types.items()}

    def visit_type_name(self, code: str) -> str:
        """The policy's name of a visit type (普通住院, 急诊留观, …), or the code itself."""
        declared = self.visit_types.get(code)
        return declared.name if declared else ENGINE_VISIT_TYPES.get(code, code)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a time zone (IANA name, e.g. Asia/Shanghai)") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        outputs = [layer.output for layer in self.layers]
        if len(set(outputs)) != len(outputs):
            raise ValueError("each output column belongs to one layer")
        standard = [o for o in outputs if o in PAYMENT_COLUMNS]
        if standard != sorted(standard, key=PAYMENT_COLUMNS.index):
            raise ValueError(f"the standard layers must come in settlement order {list(PAYMENT_COLUMNS)}")
        ids = [layer.id for layer in self.layers]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate layer ids")
        problems = tier_problems(self) + category_problems(self) + when_problems(self)
        if problems:
            raise ValueError(problems[0])
        for i, program in enumerate(self.post_hoc):
            if program.output not in self.outputs():
                raise ValueError(f"post_hoc.{i}.output: {program.output!r} is no layer's output {list(self.outputs())}")
        return self

    def outputs(self) -> tuple[str, ...]:
        """The payment columns of the output contract: the standard four (zero where the policy
        has no such layer), then the region's own funds in settlement order."""
        own = tuple(layer.output for layer in self.layers if layer.output not in PAYMENT_COLUMNS)
        return (*PAYMENT_COLUMNS, *own)

    def layer(self, output: str) -> Layer | None:
        """The layer writing ``output``, if the policy has one."""
        return next((layer for layer in self.layers if layer.output == output), None)
