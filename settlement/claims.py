"""The claim table contract: columns, validation, and the int64 arrays the engine works on.

Input columns (issue #2): ``claim_id, person_id, category, med_type, hospital_level,
settle_date, diagnosis, accident, medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay,
preselfpay_amt`` — amounts in yuan with at most two decimals. ``inscp_scp_amt`` (政策范围内)
is derived: ``medfee_sumamt − fulamt_ownpay_amt − overlmt_selfpay − preselfpay_amt``.

Instead of ``category``, the relief categories may come from dated identity periods
(:mod:`settlement.identities`): each claim then has its *candidate* categories, and the engine
settles it under the most favourable (就高不重复). An optional ``arrival`` column (a whole
number per claim) orders each person-year's claims as they arrived, as the real-time service
settles them; without it they settle in (``settle_date``, ``claim_id``) order. Optional 0/1
columns ``out_of_area``, ``out_of_province``, ``referral`` and ``emergency`` (0 where absent) carry the claim attributes
a policy's rules may test.

Every bad row is reported with its claim_id, field and reason (:class:`ClaimValidationError`);
nothing is settled when any row is bad.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.money import parse_yuan
from tiers.codes import CATEGORIES, CLAIM_FLAGS, MED_TYPES

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

AMOUNT_COLUMNS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
CLAIM_COLUMNS = (
    "claim_id",
    "person_id",
    "category",
    "med_type",
    "hospital_level",
    "settle_date",
    "diagnosis",
    "accident",
    *AMOUNT_COLUMNS,
)
ADMISSION = "admission_date"
"""Optional column: the day of admission (入院日期; empty: the settle_date); a policy dated by
admission (``dated_by: admission``) takes its parameters, identities and year from it."""
ARRIVAL = "arrival"
"""Optional column: the order in which a person-year's claims arrived (the service's)."""
BIRTH = "birth_date"
"""Optional column: the person's birth date (empty: unknown), for a policy's age bands."""
FLAG_COLUMNS = CLAIM_FLAGS
"""Optional 0/1 columns (0 where absent): the claim attributes rules may test (out_of_area, out_of_province,
referral, emergency)."""
_DATE = r"\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class ClaimProblem:
    """One bad value of one claim: which claim, which field, why."""

    claim_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"claim {self.claim_id}: {self.field}: {self.reason}"


class ClaimValidationError(ValueError):
    """Bad input rows; ``problems`` lists every (claim_id, field, reason) found."""

    SHOWN = 20

    def __init__(self, problems: list[ClaimProblem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[: self.SHOWN]]
        if len(problems) > self.SHOWN:
            lines.append(f"… and {len(problems) - self.SHOWN} more")
        super().__init__(f"{len(problems)} problem(s) in the claims:\n" + "\n".join(lines))


@dataclass(frozen=True)
class CategoryCandidates:
    """Each claim's candidate relief categories (codes: positions in the policy's categories):
    claim ``i``'s are ``category[start[i]:start[i+1]]``, at least one each."""

    start: I64  # [n + 1]
    category: I64  # [m]

    @classmethod
    def single(cls, category: I64) -> CategoryCandidates:
        """One candidate per claim: ``category``."""
        return cls(np.arange(len(category) + 1, dtype=np.int64), category)

    @property
    def counts(self) -> I64:
        counts: I64 = np.diff(self.start)
        return counts


@dataclass(frozen=True)
class ClaimTable:
    """Validated claims as arrays, in input order. Codes index the tuples in :mod:`tiers.codes`."""

    claim_id: npt.NDArray[Any]  # str from files; int64 for generated cohorts (simulation)
    claim_rank: I64  # rank of claim_id in sorted order (ties impossible: ids are unique)
    person: I64  # index into ``persons``
    persons: npt.NDArray[Any]  # person ids (str from files; int64 for generated cohorts)
    category: I64
    med: I64
    level: I64  # hospital tier code (the claim's hospital_level; the policy declares its tiers)
    day: I64  # the day the claim is dated by (settle_date, or the admission day), days since 1970-01-01
    diagnosis: I64  # index into ``diagnoses``
    diagnoses: npt.NDArray[np.object_]
    accident: I64  # 0/1
    medfee: I64
    fulamt_ownpay: I64
    overlmt_selfpay: I64
    preselfpay: I64
    candidates: CategoryCandidates | None = None
    """Candidate categories from identity periods (:mod:`settlement.identities`); None: ``category``."""
    flags: I64 | None = None
    """The claim attributes of :data:`tiers.codes.CLAIM_FLAGS` as bits (bit i: the i-th); None: none set."""
    arrival: I64 | None = None
    """Arrival numbers: a person-year's claims settle in this order (ties: claim_id); None:
    (settle_date, claim_id) order."""
    birth: I64 | None = None
    """The person's birth date, days since 1970-01-01 (:data:`UNKNOWN_BIRTH` where not given); None: no column."""

    def __len__(self) -> int:
        return len(self.claim_id)

    @property
    def category_candidates(self) -> CategoryCandidates:
        """Each claim's candidate categories (its one ``category`` when none were given)."""
        return self.candidates if self.candidates is not None else CategoryCandidates.single(self.category)

    @property
    def year(self) -> I64:
        """Calendar year of each settle_date."""
        years: I64 = self.day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        return years

    @property
    def inscp(self) -> I64:
        """政策范围内金额 (fen)."""
        return self.medfee - self.fulamt_ownpay - self.overlmt_selfpay - self.preselfpay


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("string").fillna("").str.strip()


def _flag(problems: list[ClaimProblem], ids: pd.Series, bad: npt.NDArray[np.bool_], field: str, reason: str) -> None:
    problems.extend(ClaimProblem(str(cid), field, reason) for cid in ids[bad])


def _codes(values: pd.Series, allowed: tuple[str, ...]) -> I64:
    return pd.Index(list(allowed)).get_indexer(pd.Index(values.astype(object))).astype(np.int64)


def _parse_amount(text: pd.Series, ids: pd.Series, field: str, problems: list[ClaimProblem]) -> tuple[I64, Bools]:
    fen, rows, reasons = parse_yuan(text)
    problems.extend(ClaimProblem(str(c), field, str(r)) for c, r in zip(ids.iloc[rows], reasons, strict=True))
    bad = np.zeros(len(fen), dtype=bool)
    bad[rows] = True
    return fen, bad


def _parse_day(text: pd.Series, ids: pd.Series, problems: list[ClaimProblem], column: str = "settle_date") -> I64:
    parsed = pd.to_datetime(text.where(text.str.fullmatch(_DATE), None), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna().to_numpy(bool)
    _flag(problems, ids, bad, column, "not a date YYYY-MM-DD")
    days = parsed.to_numpy("datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    return np.where(bad, 0, days)


def _dated_days(frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem], settled: I64, dated_by: str) -> I64:
    """The day each claim is dated by (its parameters, identities and year): its settle_date, or
    with ``dated_by`` ``admission`` its optional ``admission_date`` where given (not after the
    settle_date)."""
    if ADMISSION not in frame.columns:
        return settled
    text = _text(frame, ADMISSION)
    given = (text != "").to_numpy(bool)
    admitted = np.where(given, _parse_day(text.where(given, "1970-01-01"), ids, problems, ADMISSION), settled)
    _flag(problems, ids, admitted > settled, ADMISSION, "after settle_date")
    return admitted if dated_by == "admission" else settled


def _check_ids(ids: pd.Series, persons: pd.Series, problems: list[ClaimProblem]) -> None:
    _flag(problems, ids, (ids == "").to_numpy(bool), "claim_id", "empty claim_id")
    _flag(problems, ids, ids.duplicated(keep="first").to_numpy(bool), "claim_id", "duplicate claim_id")
    _flag(problems, ids, (persons == "").to_numpy(bool), "person_id", "empty person_id")


def _visit_codes(
    frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem], settles_as: Mapping[str, str]
) -> I64:
    """Each claim's visit type as the engine's code it settles as; unknown types flagged."""
    text = _text(frame, "med_type")
    declared = text.isin(list(settles_as)).to_numpy(bool)
    _flag(problems, ids, ~declared, "med_type", f"unknown visit type; the policy declares {list(settles_as)}")
    return np.maximum(_codes(text.map(settles_as).fillna(""), MED_TYPES), 0)


def _check_codes(
    frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem], categories: Sequence[str] | None
) -> dict[str, I64]:
    """The coded columns (``categories``: the relief categories a ``category`` column may name; None:
    the frame has none)."""
    specs = {
        **({"category": ("category", tuple(categories))} if categories is not None else {}),
        "accident": ("accident", ("0", "1")),
    }
    codes = {"level": _tier_codes(frame, ids, problems)}
    for name, (column, allowed) in specs.items():
        codes[name] = _codes(_text(frame, column), allowed)
        _flag(problems, ids, codes[name] < 0, column, f"unknown value; expected one of {list(allowed)}")
    if categories is None:
        codes["category"] = np.full(len(frame), CATEGORIES.index("general"), np.int64)
    return {k: np.maximum(v, 0) for k, v in codes.items()}


def _tier_codes(frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem]) -> I64:
    """Each claim's hospital tier code (1–99; which the policy declares is the engine's check)."""
    text = _text(frame, "hospital_level")
    bad = ~text.str.fullmatch(r"[1-9][0-9]?").fillna(False).to_numpy(bool)
    _flag(problems, ids, bad, "hospital_level", "not a hospital tier (a whole number 1–99)")
    return np.where(bad, "1", text.to_numpy(object)).astype(np.int64)


def _parse_flags(frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem]) -> I64 | None:
    """The optional claim attributes as bits (None: the frame has none of their columns)."""
    present = [c for c in FLAG_COLUMNS if c in frame.columns]
    if not present:
        return None
    bits = np.zeros(len(frame), np.int64)
    for column in present:
        code = _codes(_text(frame, column), ("0", "1"))
        _flag(problems, ids, code < 0, column, "unknown value; expected one of ['0', '1']")
        bits |= np.maximum(code, 0) << FLAG_COLUMNS.index(column)
    return bits


UNKNOWN_BIRTH = np.iinfo(np.int64).min
"""A birth date not given."""


def ages(birth: I64, day: I64) -> I64:
    """Whole years from each birth date to each day (days since 1970-01-01): a birthday counts on
    its day, 29 February's on 1 March in a common year.

    >>> d = lambda text: np.array([np.datetime64(t, "D").astype(np.int64) for t in text])
    >>> ages(d(["2008-03-15", "2008-03-15", "2000-02-29"]), d(["2026-03-14", "2026-03-15", "2025-02-28"])).tolist()
    [17, 18, 24]
    """
    born, on = birth.astype("datetime64[D]"), day.astype("datetime64[D]")
    born_month, on_month = born.astype("datetime64[M]"), on.astype("datetime64[M]")
    years = on.astype("datetime64[Y]").astype(np.int64) - born.astype("datetime64[Y]").astype(np.int64)
    month_day = (born_month.astype(np.int64) % 12) * 32 + (born - born_month).astype(np.int64)
    today = (on_month.astype(np.int64) % 12) * 32 + (on - on_month).astype(np.int64)
    years_done: I64 = (years - (today < month_day)).astype(np.int64)
    return years_done


def age_on(born: date, on: date) -> int:
    """:func:`ages` of one birth date on one day.

    >>> age_on(date(2000, 2, 29), date(2025, 2, 28)), age_on(date(2000, 2, 29), date(2025, 3, 1))
    (24, 25)
    """
    days = np.array([born.toordinal(), on.toordinal()], np.int64) - _EPOCH_ORDINAL
    return int(ages(days[:1], days[1:])[0])


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _parse_birth(frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem]) -> I64 | None:
    if BIRTH not in frame.columns:
        return None
    text = _text(frame, BIRTH)
    given = (text != "").to_numpy(bool)
    days = _parse_day(text.where(given, "1970-01-01"), ids, problems, BIRTH)
    return np.where(given, days, UNKNOWN_BIRTH)


def _parse_arrival(frame: pd.DataFrame, ids: pd.Series, problems: list[ClaimProblem]) -> I64 | None:
    if ARRIVAL not in frame.columns:
        return None
    text = _text(frame, ARRIVAL)
    bad = ~text.str.fullmatch(r"[0-9]{1,18}").fillna(False).to_numpy(bool)
    _flag(problems, ids, bad, ARRIVAL, "not a whole number ≥ 0")
    return np.where(bad, "0", text.to_numpy(object)).astype(np.int64)


def _missing(frame: pd.DataFrame, identities: bool) -> list[ClaimProblem]:
    wanted = [c for c in CLAIM_COLUMNS if c != "category" or not identities]
    problems = [ClaimProblem("*", c, "missing column") for c in wanted if c not in frame.columns]
    if identities and "category" in frame.columns:
        reason = "the categories come from the identity periods: leave the category column out"
        problems.append(ClaimProblem("*", "category", reason))
    return problems


def from_frame(
    frame: pd.DataFrame,
    *,
    identities: bool = False,
    settles_as: Mapping[str, str] | None = None,
    categories: Sequence[str] = CATEGORIES,
    dated_by: str = "settlement",
) -> ClaimTable:
    """Validate a claims DataFrame (any dtypes; read text as text) and build the arrays.

    ``identities``: the categories will come from identity periods
    (:func:`settlement.identities.with_candidates`), so the frame has no ``category`` column.
    ``settles_as``: the policy's visit types (:meth:`tiers.schema.Policy.settles_as`; by default
    the engine's 11, 14, 21), each claim's ``med_type`` coded as the type it settles as.
    ``categories``: the relief categories of the policy (:meth:`tiers.schema.Policy.categories`;
    by default the national ten), each claim's coded as its position. ``dated_by``: the policy's
    (:attr:`tiers.schema.Policy.dated_by`): the claims' ``day`` is their admission day when it is
    ``admission`` and the optional ``admission_date`` column gives one.
    """
    missing = _missing(frame, identities)
    if missing:
        raise ClaimValidationError(missing)
    problems: list[ClaimProblem] = []
    ids, persons = _text(frame, "claim_id"), _text(frame, "person_id")
    _check_ids(ids, persons, problems)
    codes = _check_codes(frame, ids, problems, None if identities else categories)
    codes["med"] = _visit_codes(frame, ids, problems, settles_as or {m: m for m in MED_TYPES})
    arrival = _parse_arrival(frame, ids, problems)
    flags, birth = _parse_flags(frame, ids, problems), _parse_birth(frame, ids, problems)
    parsed = {c: _parse_amount(frame[c], ids, c, problems) for c in AMOUNT_COLUMNS}
    amounts = {c: fen for c, (fen, _) in parsed.items()}
    unreadable = np.logical_or.reduce([bad for _, bad in parsed.values()])
    day = _dated_days(frame, ids, problems, _parse_day(_text(frame, "settle_date"), ids, problems), dated_by)
    parts = amounts["fulamt_ownpay_amt"] + amounts["overlmt_selfpay"] + amounts["preselfpay_amt"]
    exceed = (parts > amounts["medfee_sumamt"]) & ~unreadable
    _flag(problems, ids, exceed, "medfee_sumamt", "components exceed the total")
    if problems:
        raise ClaimValidationError(problems)
    person_code, person_uniques = pd.factorize(persons, sort=False)
    diag_code, diag_uniques = pd.factorize(_text(frame, "diagnosis").str.upper(), sort=False)
    id_array = ids.to_numpy(object)
    return ClaimTable(
        claim_id=id_array,
        claim_rank=pd.factorize(ids, sort=True)[0].astype(np.int64),
        person=person_code.astype(np.int64),
        persons=np.asarray(person_uniques, dtype=object),
        day=day,
        diagnosis=diag_code.astype(np.int64),
        diagnoses=np.asarray(diag_uniques, dtype=object),
        medfee=amounts["medfee_sumamt"],
        fulamt_ownpay=amounts["fulamt_ownpay_amt"],
        overlmt_selfpay=amounts["overlmt_selfpay"],
        preselfpay=amounts["preselfpay_amt"],
        arrival=arrival,
        category=codes["category"],
        med=codes["med"],
        level=codes["level"],
        accident=codes["accident"],
        flags=flags,
        birth=birth,
    )
