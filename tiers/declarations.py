"""What a policy declares besides its rules — its vocabulary: disease lists, relief categories of
its own, visit types, hospital tiers, age bands, reference figures, the platform's identity codes, the
claim attributes a program counts by, a layer's funding and accumulation period — and the strict base
model every policy element shares."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tiers.codes import CLAIM_FLAGS, MedType
from tiers.params import Amount, Ratio

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r}: ids are lower-case letters, digits and '_'")
    return value


_ICD_PREFIX = re.compile(r"^[A-Z][0-9A-Z.]*$")


class DiseaseList(Strict):
    """A named list of diagnoses by ICD-10 prefix (e.g. 重特大疾病)."""

    name: str
    reference: str
    assumption: str | None = None
    icd10_prefixes: tuple[str, ...] = Field(min_length=1)

    @field_validator("icd10_prefixes")
    @classmethod
    def _prefixes(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for p in values:
            if not _ICD_PREFIX.match(p):
                raise ValueError(f"{p!r} is not an ICD-10 prefix (e.g. 'C', 'I21', 'N18.5')")
        if len(set(values)) != len(values):
            raise ValueError("duplicate prefixes")
        return values


CategoryCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
"""A relief category's code (which exist is the policy's check: :meth:`Policy.categories`)."""


class ReliefCategory(Strict):
    """A relief category of the region's own, beyond the national ten (Beijing 37号: 60年代精减退职
    老职工, 因公(病)致残返城知青): rules name it in ``when.category`` and tilts like any other."""

    name: str
    reference: str
    assumption: str | None = None


VISIT_CODE = re.compile(r"^[0-9A-Za-z]{1,10}$")
ENGINE_VISIT_TYPES = {"11": "普通门诊", "14": "门诊慢特病", "21": "普通住院"}
"""The visit types the engine's rules match on (``when.med_type``), and their names by default."""


class VisitType(Strict):
    """A visit type (医疗类别, ``med_type``) hospitals send, and how it settles: as itself (one of the
    engine's 11/14/21) or ``settles_as`` one of them (e.g. 13 急诊留观 as 21 住院, Beijing 2017
    细则 Art. 29) — the rules whose ``when.med_type`` names that code settle it."""

    name: str
    settles_as: MedType | None = None
    reference: str | None = None
    assumption: str | None = None


class HospitalTier(Strict):
    """A hospital tier claims carry as ``hospital_level`` (its own deductible or ratio by
    ``by_level``): 一级及以下, 二级, 三级 by default; a region declares its own (Bengbu: 市三级, 省属三级,
    市域外, 省外)."""

    name: str
    reference: str | None = None
    assumption: str | None = None


class AgeBand(Strict):
    """An age group rules may name (``when: {age_band: [...]}``): the person's age in whole years on
    the day the claim is dated by, from ``from_age`` to ``to_age`` (both included; none: no upper
    end). Claims carry the person's ``birth_date`` (the service takes it from the ID number)."""

    name: str
    from_age: int = Field(default=0, ge=0, le=150)
    to_age: int | None = Field(default=None, ge=0, le=150)
    reference: str
    assumption: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.to_age is not None and self.to_age < self.from_age:
            raise ValueError(f"to_age {self.to_age} is below from_age {self.from_age}")
        return self


AGE_FLAG = "age:"
"""Prefix of an age band's name among a policy's claim attributes (:meth:`tiers.schema.Policy.flags`)."""


class ReferenceFigure(Strict):
    """A figure published each year that amounts are stated as multiples of (人均可支配收入, 低保标准);
    ``{of: <name>, times: <factor>}`` anywhere an amount goes (:mod:`tiers.figures`)."""

    name: str
    values: Amount


class IdentityCodes(Strict):
    """The region's codes of relief identity on the platform (``psn_idet_type`` of 1101 ``idetinfo``).

    The codes are local (not a national table), so each region maps its own to categories.
    """

    reference: str
    assumption: str | None = None
    codes: dict[str, CategoryCode] = Field(min_length=1)


class ClaimFlags(Strict):
    """Which claims count, by their attributes (:data:`tiers.codes.CLAIM_FLAGS`; unset: either)."""

    out_of_area: bool | None = None
    out_of_province: bool | None = None
    referral: bool | None = None
    emergency: bool | None = None

    def wanted(self) -> dict[str, bool]:
        """The attributes set, in :data:`tiers.codes.CLAIM_FLAGS` order."""
        return {f: bool(getattr(self, f)) for f in CLAIM_FLAGS if getattr(self, f) is not None}


_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class AccumulationPeriod(Strict):
    """累计周期: the year a layer's deductibles, bands and caps run over — one starting on
    ``starts`` (``MM-DD``) each year: ``01-01`` the calendar year (the default), another day an
    insurance year (保险年度). A period is known by the year it starts in (the accumulators'
    ``year``): with ``starts: 07-01``, 2025-03-10 is in period 2024."""

    starts: str
    reference: str
    assumption: str | None = None

    @field_validator("starts")
    @classmethod
    def _month_day(cls, value: str) -> str:
        found = _MONTH_DAY.match(value)
        if not found or int(found.group(2)) > _DAYS_IN_MONTH[int(found.group(1)) - 1]:
            raise ValueError(f"{value!r}: a period starts on a day of every year, MM-DD (02-29 is not one)")
        return value

    @property
    def month_day(self) -> tuple[int, int]:
        month, day = self.starts.split("-")
        return int(month), int(day)


class Funding(Strict):
    """How a premium-funded layer (补充保险) is financed; used by insurer accounting."""

    premium_per_person: Amount
    loss_ratio_floor: Ratio
    second_payout: bool = True
    allocation: Literal["remaining_self_pay", "covered_self_pay", "equal_shares"] = "remaining_self_pay"
    """How the second payout is shared among insured persons, each at most what is left to them:
    pro rata to the in-policy self-pay left after every layer on all their claims of the year
    (``remaining_self_pay``) or only on the claims the layer covered (``covered_self_pay``: its
    diseases and accidents), or in equal shares (``equal_shares``)."""
    reference: str
    assumption: str | None = None
