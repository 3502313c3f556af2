"""Relief identities as dated periods (救助身份), and each claim's candidate categories from them.

A person may hold several identities at once (低保 and 因病致贫, say); a claim's *candidate*
categories are those of the person's identities valid on its ``settle_date`` (``valid_from`` ≤
date ≤ ``valid_to``, an empty ``valid_to`` is open-ended), or ``general`` when none is. The
engine settles the claim under the most favourable candidate (就高不重复, :mod:`settlement.scan`).

The same rule serves the batch command (``medrelief settle --identities FILE``: columns
``person_id, category, valid_from, valid_to``) and the real-time service, which hands the
identities of its registry to :func:`with_candidates` — so both settle a person the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.accumulators import person_codes
from settlement.claims import CategoryCandidates, ClaimTable
from tiers.codes import CATEGORIES

I64 = npt.NDArray[np.int64]
COLUMNS = ("person_id", "category", "valid_from", "valid_to")
OPEN_END = np.iinfo(np.int64).max
"""``valid_to`` of an open-ended period (days)."""
GENERAL = CATEGORIES.index("general")
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class IdentityProblem:
    """One bad identity row: its row number (1-based, as a spreadsheet shows it, header = 1),
    the field, the reason."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"identity row {self.row}: {self.field}: {self.reason}"


class IdentityValidationError(ValueError):
    """Bad identity periods; ``problems`` lists them all."""

    def __init__(self, problems: list[IdentityProblem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[:20]] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__(f"{len(problems)} problem(s) in the identities:\n" + "\n".join(lines))


@dataclass(frozen=True)
class IdentityPeriods:
    """Identity periods as arrays: person id, category code (its position in ``categories``, the
    policy's: :meth:`tiers.schema.Policy.categories`), first and last day (days since 1970-01-01;
    :data:`OPEN_END` for an open end)."""

    person_id: npt.NDArray[np.object_]
    category: I64
    valid_from: I64
    valid_to: I64
    categories: tuple[str, ...] = CATEGORIES

    def __len__(self) -> int:
        return len(self.person_id)

    @classmethod
    def of(
        cls, periods: list[tuple[str, str, date, date | None]], categories: Sequence[str] = CATEGORIES
    ) -> IdentityPeriods:
        """From (person_id, category, valid_from, valid_to) tuples (the service's registry)."""
        known = tuple(categories)
        if not periods:
            empty = np.zeros(0, np.int64)
            return cls(np.zeros(0, object), empty, empty, empty, known)
        person, category, start, end = zip(*periods, strict=True)
        return cls(
            np.array(person, dtype=object),
            np.array([known.index(c) for c in category], np.int64),
            np.array([(d - EPOCH).days for d in start], np.int64),
            np.array([OPEN_END if d is None else (d - EPOCH).days for d in end], np.int64),
            known,
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, categories: Sequence[str] = CATEGORIES) -> IdentityPeriods:
        """Validate a table of text cells with :data:`COLUMNS` (``valid_to`` may be empty; the
        categories the policy's, ``categories``)."""
        known = tuple(categories)
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise IdentityValidationError([IdentityProblem(1, c, "missing column") for c in missing])
        text = {c: frame[c].astype("string").fillna("").str.strip() for c in COLUMNS}
        problems: list[IdentityProblem] = []
        category = pd.Index(list(known)).get_indexer(pd.Index(text["category"].astype(object)))
        _flag(problems, category < 0, "category", f"unknown category; expected one of {list(known)}")
        _flag(problems, (text["person_id"] == "").to_numpy(bool), "person_id", "empty person_id")
        start, bad_start = _days(text["valid_from"])
        _flag(problems, bad_start, "valid_from", "not a date YYYY-MM-DD")
        blank = (text["valid_to"] == "").to_numpy(bool)
        end, bad_end = _days(text["valid_to"])
        _flag(problems, bad_end & ~blank, "valid_to", "not a date YYYY-MM-DD (or empty: open-ended)")
        end = np.where(blank, OPEN_END, end)
        _flag(problems, ~bad_start & ~(bad_end & ~blank) & (end < start), "valid_to", "before valid_from")
        if problems:
            raise IdentityValidationError(sorted(problems, key=lambda p: p.row))
        return cls(text["person_id"].to_numpy(object), category.astype(np.int64), start, end, known)


def _flag(problems: list[IdentityProblem], bad: npt.NDArray[np.bool_], field: str, reason: str) -> None:
    problems.extend(IdentityProblem(int(i) + 2, field, reason) for i in np.flatnonzero(bad))


def _days(text: pd.Series) -> tuple[I64, npt.NDArray[np.bool_]]:
    shaped = text.where(text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False), None)
    parsed = pd.to_datetime(shaped, format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy(bool)
    days = parsed.to_numpy("datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    return np.where(bad, 0, days), bad


def candidates(claims: ClaimTable, periods: IdentityPeriods) -> CategoryCandidates:
    """Each claim's candidate categories: its person's identities valid on its date (distinct, in
    the periods' category order), or ``general`` where there is none. Vectorised: the
    periods are grouped by the claims' person codes and joined to the claims in arrays."""
    person = person_codes(claims.persons, periods.person_id)
    known = np.flatnonzero(person >= 0)
    by_person = known[np.argsort(person[known], kind="stable")]
    sorted_person = person[by_person]
    lo = np.searchsorted(sorted_person, claims.person, side="left")
    hi = np.searchsorted(sorted_person, claims.person, side="right")
    counts = hi - lo
    claim = np.repeat(np.arange(len(claims), dtype=np.int64), counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    period = by_person[np.repeat(lo, counts) + within]
    day = claims.day[claim]
    valid = (periods.valid_from[period] <= day) & (day <= periods.valid_to[period])
    n_cat = len(periods.categories)
    held = np.unique(claim[valid] * n_cat + periods.category[period[valid]])
    holding = np.zeros(len(claims), np.bool_)
    holding[held // n_cat] = True
    pairs = np.sort(np.concatenate([held, np.flatnonzero(~holding) * n_cat + GENERAL]))
    start = np.zeros(len(claims) + 1, np.int64)
    np.cumsum(np.bincount(pairs // n_cat, minlength=len(claims)), out=start[1:])
    return CategoryCandidates(start, (pairs % n_cat).astype(np.int64))


def held_on(periods: IdentityPeriods, person_id: str, day: date) -> list[str]:
    """The categories ``person_id`` holds on ``day`` (in the periods' category order;
    empty: none) — one person-day of :func:`candidates`."""
    on = (day - EPOCH).days
    valid = (periods.person_id == person_id) & (periods.valid_from <= on) & (on <= periods.valid_to)
    return [periods.categories[c] for c in sorted(set(periods.category[valid].tolist()))]


def with_candidates(claims: ClaimTable, periods: IdentityPeriods) -> ClaimTable:
    """``claims`` whose categories are their candidates from ``periods``."""
    if len(periods) == 0:  # nobody holds an identity: each claim's one candidate is general
        return replace(claims, candidates=None, category=np.full(len(claims), GENERAL, np.int64))
    found = candidates(claims, periods)
    return replace(claims, candidates=found, category=found.category[found.start[:-1]])
