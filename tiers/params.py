"""Dated parameter values (参数版本): the one representation of every number in a policy file.

A parameter may be written in a policy file as

* a plain number (or ``null`` where "none" is meaningful, e.g. an uncapped cap),
* a mapping ``{value: …, reference: …, assumption: …}``,
* a list of such mappings, each with a ``from`` date, in increasing date order.

All forms are normalised to a tuple of :class:`DatedValue`; a value without ``from`` is in
force from the policy's ``valid_from``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator


class DatedValue(BaseModel):
    """One value of a parameter, in force from ``from_`` (None: from the policy's start)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    value: Decimal | None
    reference: str | None = None
    assumption: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _exact_decimal(cls, raw: Any) -> Any:
        if raw is None or isinstance(raw, Decimal):
            return raw
        if isinstance(raw, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(raw, int | float | str):
            try:
                return Decimal(str(raw))
            except InvalidOperation as exc:
                raise ValueError(f"not a number: {raw!r}") from exc
        raise ValueError(f"expected a number, got {type(raw).__name__}")


def _as_dated_list(raw: Any) -> Any:
    if isinstance(raw, list):
        if not raw:
            raise ValueError("a dated parameter needs at least one value")
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or "from" not in item:
                raise ValueError(f"entry {i} of a dated list needs a 'from' date")
        return raw
    if isinstance(raw, dict):
        return [raw]
    return [{"value": raw}]


def _check_dates(values: tuple[DatedValue, ...]) -> tuple[DatedValue, ...]:
    dates = [v.from_ for v in values]
    if len(values) > 1 and any(d is None for d in dates):
        raise ValueError("every entry of a dated list needs a 'from' date")
    known = [d for d in dates if d is not None]
    if any(b <= a for a, b in itertools.pairwise(known)):
        raise ValueError("'from' dates must be strictly increasing")
    return tuple(values)


def _kind(check: Callable[[Decimal], str | None], nullable: bool = False) -> Any:
    def validate(values: tuple[DatedValue, ...]) -> tuple[DatedValue, ...]:
        for v in values:
            if v.value is None:
                if not nullable:
                    raise ValueError("null is not allowed here")
                continue
            problem = check(v.value)
            if problem:
                raise ValueError(f"{v.value}: {problem}")
        return values

    return validate


def _amount_problem(x: Decimal) -> str | None:
    if x < 0:
        return "an amount must not be negative"
    if x != x.quantize(Decimal("0.01")):
        return "an amount has at most two decimals (fen)"
    return None


def _ratio_problem(x: Decimal) -> str | None:
    if not Decimal(0) <= x <= Decimal(1):
        return "a ratio must be within [0, 1]"
    if x != x.quantize(Decimal("0.0001")):
        return "a ratio has at most four decimals (1/10,000)"
    return None


def _points_problem(x: Decimal) -> str | None:
    if not Decimal(-1) <= x <= Decimal(1):
        return "a ratio adjustment must be within [-1, 1]"
    if x != x.quantize(Decimal("0.0001")):
        return "a ratio adjustment has at most four decimals (1/10,000)"
    return None


EVERY_TIER = 0
"""The key of a value given once for every hospital tier (not ``by_level``)."""


def _by_level(raw: Any) -> Any:
    """``{by_level: {1: …, 2: …}}`` (the policy checks it names exactly its tiers) or one value for
    every tier (kept under :data:`EVERY_TIER`)."""
    if isinstance(raw, dict) and "by_level" in raw:
        if len(raw) != 1:
            raise ValueError("'by_level' must be the only key")
        levels = raw["by_level"]
        if not isinstance(levels, dict) or not levels or any(not _tier_code(k) for k in levels):
            raise ValueError("'by_level' maps hospital tiers (whole numbers from 1) to values")
        return levels
    return {EVERY_TIER: raw}


def _tier_code(key: Any) -> bool:
    return isinstance(key, int) and not isinstance(key, bool) and key >= 1


def key_path(key: object) -> tuple[str, ...]:
    """A key of a parsed mapping as the YAML file names it: a hospital tier as ``by_level.<tier>``,
    the value for every tier as nothing (``cap: 400``), anything else as itself."""
    if isinstance(key, int):
        return () if key == EVERY_TIER else ("by_level", str(key))
    return (str(key),)


def at_tier(values: dict[int, Any], tier: int) -> Any:
    """A by-tier value of ``tier`` (or the value given for every tier)."""
    return values[tier] if tier in values else values[EVERY_TIER]


_Dated = Annotated[tuple[DatedValue, ...], BeforeValidator(_as_dated_list), AfterValidator(_check_dates)]

Amount = Annotated[_Dated, AfterValidator(_kind(_amount_problem))]
"""Yuan, ≥ 0, at most two decimals."""
OptionalAmount = Annotated[_Dated, AfterValidator(_kind(_amount_problem, nullable=True))]
"""Yuan, or null for "no limit"."""
Ratio = Annotated[_Dated, AfterValidator(_kind(_ratio_problem))]
"""Exact decimal in [0, 1], at most four decimals."""
Points = Annotated[_Dated, AfterValidator(_kind(_points_problem))]
"""A ratio adjustment (e.g. +0.05 = five points)."""

LevelAmount = Annotated[dict[int, Amount], BeforeValidator(_by_level)]
LevelOptionalAmount = Annotated[dict[int, OptionalAmount], BeforeValidator(_by_level)]
LevelRatio = Annotated[dict[int, Ratio], BeforeValidator(_by_level)]


def value_at(values: tuple[DatedValue, ...], on: date) -> DatedValue:
    """The value in force on ``on``: the last one whose ``from`` is on or before it.

    >>> v = (DatedValue(value=Decimal("0.70")), )
    >>> value_at(v, date(2024, 1, 1)).value
    Decimal('0.70')
    """
    chosen = None
    for v in values:
        if v.from_ is None or v.from_ <= on:
            chosen = v
    if chosen is None:
        raise LookupError(f"no value in force on {on}")
    return chosen


def change_dates(values: tuple[DatedValue, ...]) -> list[date]:
    """The dates on which this parameter changes."""
    return [v.from_ for v in values if v.from_ is not None]
