"""Cohorts for simulation: a synthetic population generated reproducibly from a seed, or real claims.

A synthetic cohort is described by a YAML file (:class:`CohortSpec`; the bundled default is
``settlement/simulation/defaults/cohort.yaml``): persons by relief category with weights, a
claim frequency per visit type (Poisson, mixed over a per-person gamma frailty), a lognormal
severity per visit type with factors for major diseases and accidents, hospital levels, the
shares of 全自费 / 超限价 / 先行自付 (beta distributions), major-disease and accident incidence.

Persons are generated in blocks of ``block_size``; block *b* of replication *r* is drawn from
``SeedSequence([seed, r, b])`` alone, so a block is the same whether it is generated in this
process or on a Dask worker, and persons never straddle blocks (annual accumulation stays
inside one block). Money is drawn in yuan, then fixed once to int64 fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from settlement.claims import ClaimTable
from tiers.codes import CATEGORIES, HOSPITAL_LEVELS, Category, MedType
from tiers.loader import load_model

I64 = npt.NDArray[np.int64]
DEFAULT = Path(__file__).with_name("defaults") / "cohort.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Share(_Strict):
    """A share of the bill drawn per claim from a beta distribution with this mean."""

    mean: float = Field(ge=0, lt=1)
    concentration: float = Field(default=20, gt=0)


class Severity(_Strict):
    """Lognormal bill size: ``median`` yuan, ``sigma`` of the log."""

    median: Decimal = Field(gt=0)
    sigma: float = Field(ge=0, le=4)


class VisitSpec(_Strict):
    """Claims of one visit type (``med_type``)."""

    frequency: float = Field(ge=0, description="mean claims per person-year before category factors")
    severity: Severity
    levels: dict[int, float]
    major_share: float = Field(default=0, ge=0, le=1)
    major_severity_factor: float = Field(default=1, gt=0)
    accident_share: float = Field(default=0, ge=0, le=1)
    accident_severity_factor: float = Field(default=1, gt=0)
    fulamt_ownpay: Share = Share(mean=0)
    overlmt_selfpay: Share = Share(mean=0)
    preselfpay: Share = Share(mean=0)

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: dict[int, float]) -> dict[int, float]:
        if not levels or set(levels) - set(HOSPITAL_LEVELS) or any(w < 0 for w in levels.values()):
            raise ValueError(f"weights by hospital level {list(HOSPITAL_LEVELS)}, non-negative")
        if sum(levels.values()) <= 0:
            raise ValueError("the level weights add up to zero")
        return levels

    @model_validator(mode="after")
    def _incidence(self) -> Self:
        if self.major_share + self.accident_share > 1:
            raise ValueError("major_share + accident_share exceeds 1")
        return self


class CategorySpec(_Strict):
    share: float = Field(ge=0)
    frequency_factor: float = Field(default=1, ge=0)


class Diagnoses(_Strict):
    """ICD-10 codes drawn uniformly within each group."""

    major: tuple[str, ...] = Field(min_length=1)
    accident: tuple[str, ...] = Field(min_length=1)
    other: tuple[str, ...] = Field(min_length=1)


class CohortSpec(_Strict):
    """A synthetic cohort (see the module docstring); the YAML file's content."""

    id: str
    reference: str
    year: int = Field(ge=2000, le=2100)
    persons: int = Field(gt=0)
    block_size: int = Field(default=50_000, gt=0)
    frailty_shape: float | None = Field(default=None, gt=0)
    categories: dict[Category, CategorySpec]
    visits: dict[MedType, VisitSpec]
    diagnoses: Diagnoses

    @field_validator("categories")
    @classmethod
    def _some_weight(cls, value: dict[Category, CategorySpec]) -> dict[Category, CategorySpec]:
        if sum(c.share for c in value.values()) <= 0:
            raise ValueError("the category shares add up to zero")
        return value

    @property
    def n_blocks(self) -> int:
        return -(-self.persons // self.block_size)

    def with_persons(self, persons: int) -> CohortSpec:
        return self.model_copy(update={"persons": persons})


def load_cohort(path: str | Path = DEFAULT) -> CohortSpec:
    """A cohort file, checked (errors name the file and key path)."""
    return load_model(CohortSpec, path)


@dataclass(frozen=True)
class Block:
    """A block of persons and their claims for one year: persons never straddle blocks."""

    category: I64  # per person of the block (index into CATEGORIES)
    claims: ClaimTable

    @property
    def persons(self) -> int:
        return len(self.category)


def generate_block(spec: CohortSpec, seed: int, replication: int, block: int) -> Block:
    """Block ``block`` of replication ``replication``: a pure function of its arguments."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, replication, block]))
    first = block * spec.block_size
    n = min(spec.block_size, spec.persons - first)
    if n <= 0:
        raise ValueError(f"block {block} is outside a cohort of {spec.persons} persons")
    weights = np.array(
        [spec.categories[Category(c)].share if Category(c) in spec.categories else 0 for c in CATEGORIES]
    )
    category = rng.choice(len(CATEGORIES), n, p=weights / weights.sum()).astype(np.int64)
    parts = [_visits(spec, med, rng, category) for med in spec.visits]
    return Block(category, _table(spec, parts, category, first, block))


def _frequency(spec: CohortSpec, visit: VisitSpec, rng: np.random.Generator, category: I64) -> I64:
    factors = np.array(
        [spec.categories[Category(c)].frequency_factor if Category(c) in spec.categories else 0 for c in CATEGORIES]
    )
    mean = visit.frequency * factors[category]
    if spec.frailty_shape is not None:
        mean = mean * rng.gamma(spec.frailty_shape, 1 / spec.frailty_shape, len(category))
    counts: I64 = rng.poisson(mean).astype(np.int64)
    return counts


def _share(rng: np.random.Generator, share: Share, m: int) -> npt.NDArray[np.float64]:
    if share.mean == 0:
        return np.zeros(m)
    return rng.beta(share.mean * share.concentration, (1 - share.mean) * share.concentration, m)


def _visits(spec: CohortSpec, med: MedType, rng: np.random.Generator, category: I64) -> dict[str, I64]:
    visit = spec.visits[med]
    person = np.repeat(np.arange(len(category), dtype=np.int64), _frequency(spec, visit, rng, category))
    m = len(person)
    start = np.datetime64(date(spec.year, 1, 1), "D").astype(np.int64)
    days = (np.datetime64(date(spec.year + 1, 1, 1), "D") - np.datetime64(date(spec.year, 1, 1), "D")).astype(int)
    levels = np.array([visit.levels.get(lv, 0.0) for lv in HOSPITAL_LEVELS])
    u = rng.random(m)
    major = u < visit.major_share
    accident = ~major & (u < visit.major_share + visit.accident_share)
    factor = np.where(major, visit.major_severity_factor, np.where(accident, visit.accident_severity_factor, 1.0))
    bill = rng.lognormal(np.log(float(visit.severity.median)), visit.severity.sigma, m) * factor
    medfee = np.maximum(np.rint(bill * 100), 1).astype(np.int64)
    own = np.floor(medfee * _share(rng, visit.fulamt_ownpay, m)).astype(np.int64)
    over = np.minimum(np.floor(medfee * _share(rng, visit.overlmt_selfpay, m)).astype(np.int64), medfee - own)
    pre = np.minimum(np.floor(medfee * _share(rng, visit.preselfpay, m)).astype(np.int64), medfee - own - over)
    return {
        "person": person,
        "med": np.full(m, list(MedType).index(med), np.int64),
        "level": np.asarray(HOSPITAL_LEVELS, np.int64)[rng.choice(len(HOSPITAL_LEVELS), m, p=levels / levels.sum())],
        "day": start + rng.integers(0, days, m),
        "diagnosis": _diagnosis(spec.diagnoses, rng, major, accident),
        "accident": accident.astype(np.int64),
        "medfee": medfee,
        "fulamt_ownpay": own,
        "overlmt_selfpay": over,
        "preselfpay": pre,
    }


def _diagnosis(
    diagnoses: Diagnoses, rng: np.random.Generator, major: npt.NDArray[np.bool_], accident: npt.NDArray[np.bool_]
) -> I64:
    """Index into ``major + accident + other`` codes."""
    sizes = np.array([len(diagnoses.major), len(diagnoses.accident), len(diagnoses.other)])
    group = np.where(major, 0, np.where(accident, 1, 2))
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.floor(rng.random(len(group)) * sizes[group]).astype(np.int64)
    codes: I64 = offset[group] + within
    return codes


def _table(spec: CohortSpec, parts: list[dict[str, I64]], category: I64, first: int, block: int) -> ClaimTable:
    columns = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int64) for k in _FIELDS}
    m = len(columns["person"])
    codes = spec.diagnoses
    return ClaimTable(
        claim_id=(np.int64(block) << 32) + np.arange(m, dtype=np.int64),
        claim_rank=np.arange(m, dtype=np.int64),
        persons=first + np.arange(len(category), dtype=np.int64),
        diagnoses=np.array([*codes.major, *codes.accident, *codes.other], dtype=object),
        category=category[columns["person"]],
        **{k: columns[k] for k in _FIELDS},  # type: ignore[arg-type]  # the I64 fields, by name
    )


_FIELDS = (
    "person",
    "med",
    "level",
    "day",
    "diagnosis",
    "accident",
    "medfee",
    "fulamt_ownpay",
    "overlmt_selfpay",
    "preselfpay",
)
