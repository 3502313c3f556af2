"""Early warning (因病返贫致贫预警监测): per person-year, the burden left after every layer against
the line the policy draws for the person's group (:mod:`tiers.early_warning`).

The input is one row per claim, in fen, with what each fund effectively paid (:data:`CLAIM_COLUMNS`:
a settled batch's, :func:`claim_rows`, or the service's books with their adjustments — the same
function warns both). Claims are sorted by person, year and settlement order; the burden accumulates
by grouped cumulative sums; each claim is held against the threshold of its own category's group in
force on its date. A person-year warns when its running burden reaches the threshold: the day and
the claim that crossed are kept. Vectorised: no loop over claims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.engine import SettledBatch, settle
from settlement.money import fen_of
from tiers.codes import fund_columns
from tiers.early_warning import EarlyWarning
from tiers.schema import Policy

I64 = npt.NDArray[np.int64]
CLAIM_COLUMNS = ("claim_id", "person_id", "year", "day", "order", "category", "inscp_scp_amt", "psn_part_amt",
                 "fulamt_ownpay_amt")  # fmt: skip
"""A claim row for warnings (money in fen; ``day`` a date; ``order`` its rank in settlement order), and
the policy's fund columns (``…_pay``)."""
WARNING_COLUMNS = ("person_id", "year", "group", "category", "burden", "threshold", "ratio", "warned",
                   "crossed_on", "crossing_claim", "claims")  # fmt: skip
"""A person-year's warning: its group and category (of the claim that crossed, else of its last claim),
burden and threshold (fen), burden ÷ threshold, whether it warned, the day and claim that crossed, and
how many claims the year has."""


class WarningError(ValueError):
    """A policy that declares no early warning, or claim rows that cannot be read."""


def watch_of(policy: Policy) -> EarlyWarning:
    if policy.early_warning is None:
        raise WarningError(f"policy {policy.id} declares no early_warning (who is watched, and the line)")
    return policy.early_warning


def claim_rows(result: SettledBatch) -> pd.DataFrame:
    """A settled batch's claims as :data:`CLAIM_COLUMNS` (and its fund columns)."""
    table, policy = result.claims, result.policy.policy
    frame = result.frame()
    return frame.assign(
        person_id=table.persons[table.person],
        year=table.year,
        day=table.day.astype("datetime64[D]"),
        order=_settlement_order(table.day if table.arrival is None else table.arrival, table.claim_rank),
        category=np.asarray(policy.categories(), dtype=object)[result.category],
        fulamt_ownpay_amt=table.fulamt_ownpay,
    )


def _settlement_order(first: I64, then: I64) -> I64:
    """The rank of each claim in settlement order: by ``first`` (the day, or the arrival number),
    then by claim id — as the engine settles a person-year."""
    rank = np.empty(len(first), np.int64)
    rank[np.lexsort((then, first))] = np.arange(len(first), dtype=np.int64)
    return rank


def burden_of(measure: str, psn: I64, fulamt: I64, inscp: I64, funds: I64) -> I64:
    """Burden (fen) as the policy measures it (:data:`tiers.early_warning.BURDENS`), from the
    person's part, 全自费, the in-policy amount and what the funds paid."""
    if measure == "in_policy":
        return inscp - funds
    return psn - fulamt if measure == "out_of_pocket" else psn


def burden(claims: pd.DataFrame, measure: str) -> I64:
    """Each claim's burden (fen) as the policy measures it (:func:`burden_of`)."""
    funds = claims[list(fund_columns(claims.columns))].sum(axis=1).to_numpy(np.int64)
    psn, fulamt, inscp = (claims[c].to_numpy(np.int64) for c in ("psn_part_amt", "fulamt_ownpay_amt", "inscp_scp_amt"))
    return burden_of(measure, psn, fulamt, inscp, funds)


def _thresholds(watch: EarlyWarning, group: I64, day: npt.NDArray[np.datetime64]) -> I64:
    """Each claim's threshold (fen) in force on its ``day`` (datetime64[D]), for its group (-1: not
    watched): per group, one sorted search of the days among the dates its threshold changes."""
    out = np.full(len(group), -1, np.int64)
    for g, watched in enumerate(watch.groups):  # a handful of groups
        mine = group == g
        values = watched.threshold
        starts = np.array([v.from_ or date.min for v in values], dtype="datetime64[D]")
        fen = np.array([fen_of(v.value or Decimal(0)) for v in values], np.int64)
        at = np.searchsorted(starts, day[mine], side="right") - 1
        out[mine] = np.where(at >= 0, fen[np.maximum(at, 0)], 0)
    return out


def group_of_codes(watch: EarlyWarning, names: tuple[str, ...]) -> I64:
    """Per category code (a position in ``names``): its group's index in ``watch.groups`` (-1: not watched)."""
    ids = [g.id for g in watch.groups]
    return np.array([ids.index(g.id) if (g := watch.group_of(n)) else -1 for n in names], np.int64)


def _group_codes(watch: EarlyWarning, categories: pd.Series) -> I64:
    """Each claim's group (index in ``watch.groups``; -1: its category is not watched)."""
    codes, names = pd.factorize(categories)
    return group_of_codes(watch, tuple(str(n) for n in names))[codes] if len(names) else np.zeros(0, np.int64)


def warnings(claims: pd.DataFrame, policy: Policy, *, everyone: bool = False) -> pd.DataFrame:
    """Per person-year of watched people (:data:`WARNING_COLUMNS`; money in fen): only those that
    warned unless ``everyone``. ``claims``: :data:`CLAIM_COLUMNS` and the fund columns."""
    watch = watch_of(policy)
    rows = claims.sort_values(["person_id", "year", "order"], kind="stable", ignore_index=True)
    group = _group_codes(watch, rows["category"])
    threshold = _thresholds(watch, group, rows["day"].to_numpy("datetime64[D]"))
    running = pd.Series(burden(rows, watch.burden)).groupby([rows["person_id"], rows["year"]], sort=False).cumsum()
    crossed = (group >= 0) & (running.to_numpy(np.int64) >= threshold)
    rows = rows.assign(group=group, threshold=threshold, running=running.to_numpy(np.int64), crossed=crossed)
    keys = ["person_id", "year"]
    first = rows[rows["crossed"]].drop_duplicates(keys)
    last = rows.drop_duplicates(keys, keep="last")
    years = last[[*keys, "running"]].rename(columns={"running": "burden"})
    years["claims"] = rows.groupby(keys, sort=False).size().to_numpy()
    shown = pd.concat([first, last]).drop_duplicates(keys)[[*keys, "group", "category", "threshold", "day", "claim_id",
                                                              "crossed"]]  # fmt: skip
    out = years.merge(shown, on=keys, how="left")
    out = out[out["group"] >= 0] if everyone else out[out["crossed"]]
    return _shaped(out, watch)


def _shaped(out: pd.DataFrame, watch: EarlyWarning) -> pd.DataFrame:
    warned = out["crossed"].to_numpy(bool)
    ratio = np.where(out["threshold"] > 0, out["burden"] / out["threshold"].where(out["threshold"] > 0, 1), np.inf)
    frame = pd.DataFrame(
        {
            "person_id": out["person_id"].astype(str).to_numpy(),
            "year": out["year"].to_numpy(np.int64),
            "group": [watch.groups[g].id for g in out["group"].to_numpy(np.int64)],
            "category": out["category"].astype(str).to_numpy(),
            "burden": out["burden"].to_numpy(np.int64),
            "threshold": out["threshold"].to_numpy(np.int64),
            "ratio": np.round(ratio.astype(float), 4),
            "warned": warned.astype(np.int64),
            "crossed_on": [str(pd.Timestamp(d).date()) if w else "" for d, w in zip(out["day"], warned, strict=True)],
            "crossing_claim": np.where(warned, out["claim_id"].astype(str), ""),
            "claims": out["claims"].to_numpy(np.int64),
        }
    )
    return frame.sort_values(["year", "person_id"], ignore_index=True)


def if_granted(result: SettledBatch, warned: pd.DataFrame) -> pd.DataFrame:
    """``warned`` with, per category the policy says a warned person could be granted
    (``grantable``), the year's burden had the person held it all year (``if_<category>``, fen) —
    what an approval would be worth is the difference. The whole batch is settled again under each
    category (one engine call each), so deductibles and caps are the year's, not a claim's."""
    compiled = result.policy
    watch = watch_of(compiled.policy)
    out, codes = warned.copy(), compiled.profiles.categories
    for category in watch.grantable:
        held = np.full(len(result.claims), codes.index(category), np.int64)
        rows = claim_rows(settle(replace(result.claims, category=held, candidates=None), compiled))
        rows = rows.assign(person_id=rows["person_id"].astype(str), burden=burden(rows, watch.burden))
        per_year = rows.groupby(["person_id", "year"], as_index=False).agg(**{f"if_{category}": ("burden", "sum")})
        out = out.merge(per_year, on=["person_id", "year"], how="left")
    return out


def book_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of the books (settlements, reversals and adjustments of a period, fen — the layout of
    ``medrelief export settlements``) as claims for :func:`warnings`: each claim's rows summed, so a
    claim counts with what the funds effectively paid it; a claim reversed and not settled again is
    left out. Ties within a day settle by claim id, as in a batch without arrival numbers."""
    keys = ["person_id", "claim_id"]
    money = ["medfee_sumamt", "inscp_scp_amt", "psn_part_amt", "fulamt_ownpay_amt", *fund_columns(rows.columns)]
    summed = rows.groupby(keys, as_index=False, sort=False)[money].sum()
    first = rows.drop_duplicates(keys)[[*keys, "settle_date", "category"]]
    claims = summed.merge(first, on=keys)
    claims = claims[claims["medfee_sumamt"] != 0]
    day = pd.to_datetime(claims["settle_date"])
    ids = pd.factorize(claims["claim_id"].astype(str), sort=True)[0]
    days = day.to_numpy("datetime64[D]")
    return claims.assign(person_id=claims["person_id"].astype(str), year=day.dt.year.to_numpy(), day=days,
                         order=_settlement_order(days.astype(np.int64), ids.astype(np.int64)))  # fmt: skip


@dataclass(frozen=True)
class Booked:
    """Money of claims, or of person-years so far (fen, aligned arrays): the person's part, 全自费,
    the in-policy amount and what the funds paid."""

    psn: I64
    fulamt: I64
    inscp: I64
    funds: I64

    def burden(self, measure: str) -> I64:
        return burden_of(measure, self.psn, self.fulamt, self.inscp, self.funds)


@dataclass(frozen=True)
class AtSettlement:
    """Per claim as it is settled: its group (index, -1 not watched), the threshold, the year's
    burden before and after it (fen), whether it crossed the line (before < threshold ≤ after) or
    the year was already above it."""

    group: I64
    threshold: I64
    before: I64
    after: I64
    crossed: npt.NDArray[np.bool_]
    above: npt.NDArray[np.bool_]


def at_settlement(policy: Policy, category: I64, day: npt.NDArray[np.datetime64], claims: Booked,
                  before: Booked) -> AtSettlement:  # fmt: skip
    """Early warning for claims being settled (``category``: codes into the policy's categories;
    ``day``: datetime64[D]) on their person-years' books so far — so the hospital can tell the
    patient, on the claim that crosses, where to apply. Arrays only: a batch of one costs µs."""
    watch = watch_of(policy)
    group = group_of_codes(watch, policy.categories())[category]
    threshold = _thresholds(watch, group, day)
    so_far = before.burden(watch.burden)
    after = so_far + claims.burden(watch.burden)
    watched = group >= 0
    return AtSettlement(group, threshold, so_far, after, watched & (so_far < threshold) & (after >= threshold),
                        watched & (so_far >= threshold))  # fmt: skip


def person_warned(
    person: pd.DataFrame, names: tuple[str, ...], category: I64, policy: Policy, year: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per person of a simulated year (``person``: its money sums, fen; ``category``: codes into
    ``names``): watched, and warned — the year's burden at or above the line of the person's group
    in force on 31 December (a simulated year has no claim that crossed first)."""
    watch = watch_of(policy)
    group = group_of_codes(watch, names)[category]
    day = np.full(len(category), np.datetime64(f"{year}-12-31"), dtype="datetime64[D]")
    threshold = _thresholds(watch, group, day)
    watched = group >= 0
    return watched, watched & (burden(person, watch.burden) >= threshold)
