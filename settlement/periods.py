"""Accumulation periods (累计周期): the year each layer's deductibles, bands and caps run over.

A layer's period starts on a day of every year (:class:`tiers.declarations.AccumulationPeriod`;
``01-01``, the calendar year, by default) and is known by the year it starts in: with a year from
1 July, 2025-03-10 is in period 2024. Where every layer's period is the calendar year the engine
settles person-years apart; otherwise one layer's period overlaps two of another's, years chain,
and a person's claims are settled together — each claim, in each layer, in the period holding its
day (:func:`settlement.scan.sorted_batch`). Days are counted from 1970-01-01 (int64), as
:class:`settlement.claims.ClaimTable`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
MonthDay = tuple[int, int]
CALENDAR: MonthDay = (1, 1)
EPOCH_YEAR = 1970


def years_of(day: I64) -> I64:
    """The calendar year of each day."""
    years: I64 = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + EPOCH_YEAR
    return years


def start_in(year: I64, starts: MonthDay) -> I64:
    """The day a period starting on ``starts`` (month, day) begins in each ``year``."""
    month, day = starts
    first = (year - EPOCH_YEAR).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    begins: I64 = first.astype("datetime64[D]").astype(np.int64) + (day - 1)
    return begins


def period_years(day: I64, starts: MonthDay) -> I64:
    """The year the period (starting each year on ``starts``) holding each day begins in."""
    year = years_of(day)
    if starts == CALENDAR:
        return year
    labelled: I64 = np.where(day >= start_in(year, starts), year, year - 1)
    return labelled


def of_claims(day: I64, starts: Sequence[MonthDay]) -> I64:
    """``[L, n]``: each layer's period (``starts``: where each layer's begins) of each day."""
    distinct = {s: period_years(day, s) for s in set(starts)}
    return np.vstack([distinct[s] for s in starts]).astype(np.int64)


def period_of(on: date, starts: MonthDay) -> int:
    """The year the period (starting each year on ``starts``) holding the day ``on`` begins in."""
    return on.year if (on.month, on.day) >= starts else on.year - 1


def calendar_only(starts: Sequence[MonthDay]) -> bool:
    """Whether every layer accumulates over the calendar year."""
    return all(s == CALENDAR for s in starts)
