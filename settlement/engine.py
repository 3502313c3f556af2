"""The settlement engine: the four layers over a batch of claims, in one vectorised pass.

``settle(claims, policy, opening=None)`` sorts the batch once — by person-year (by person where a
layer's accumulation period is not the calendar year, :mod:`settlement.periods`), then
(settle_date, claim_id), or the claims' ``arrival`` order when given — runs the layers in
policy order, each on what the previous ones left of the in-policy amount, settles each claim
under its most favourable candidate category (就高不重复), and returns every claim's payments
in input order, its explanation (on demand) and the closing year-to-date accumulators. Opening
accumulators make one claim the same computation as a batch: settling a year in one batch
equals settling it claim by claim, to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement import accumulators, periods
from settlement.claims import (
    UNKNOWN_BIRTH,
    CategoryCandidates,
    ClaimProblem,
    ClaimTable,
    ClaimValidationError,
    ages,
    from_frame,
)
from settlement.layers import BucketTrace, layer_traces
from settlement.scan import Candidates, Scanned, SortedBatch, scan_layers, sorted_batch
from tiers.codes import CLAIM_FLAGS
from tiers.declarations import AGE_FLAG, AgeBand
from tiers.schema import Policy
from tiers.tables import CompiledPolicy, compile_policy

I64 = npt.NDArray[np.int64]


def output_money(outputs: tuple[str, ...]) -> tuple[str, ...]:
    """The money columns of the output contract, in order (after ``claim_id``), for a policy's
    payment columns (:attr:`tiers.tables.CompiledPolicy.outputs`)."""
    return ("inscp_scp_amt", "act_pay_dedc", *outputs, "fund_pay_sumamt", "psn_part_amt")


@dataclass(frozen=True)
class LayerResult:
    """One layer's payments and deductibles borne, in sorted order."""

    table_id: str
    output: str
    paid: I64
    deductible_applied: I64


@dataclass(frozen=True)
class SettledBatch:
    """A settled batch. Money in int64 fen, arrays in input order unless named ``sorted``."""

    claims: ClaimTable
    policy: CompiledPolicy
    order: I64  # input positions in settlement order
    sorted_batch: SortedBatch  # segment and in-policy amount of each row, sorted
    candidates: Candidates  # each claim's candidate dated profiles (input order)
    segments: accumulators.Segments
    openings: accumulators.Openings
    scanned: Scanned  # every layer's payments, the chosen candidates, what each bucket added, the detail if kept

    @cached_property
    def layers(self) -> tuple[LayerResult, ...]:
        """Each layer's payments, in policy order."""
        paid, applied = self.scanned.paid, self.scanned.deductible_applied
        return tuple(LayerResult(la.id, la.output, paid[i], applied[i]) for i, la in enumerate(self.policy.layers))

    def _unsort(self, sorted_values: I64) -> I64:
        out = np.empty_like(sorted_values)
        out[self.order] = sorted_values
        return out

    @cached_property
    def category(self) -> I64:
        """The category each claim was settled under (positions in the policy's categories)."""
        chosen = self._unsort(self.scanned.chosen)
        candidates = self.claims.category_candidates
        picked: I64 = candidates.category[candidates.start[:-1] + chosen]
        return picked

    @cached_property
    def payments(self) -> dict[str, I64]:
        """Layer payments per output column of the policy (zeros for a standard layer it lacks)."""
        paid = {la.output: self._unsort(la.paid) for la in self.layers}
        return {c: paid.get(c, np.zeros(len(self.claims), np.int64)) for c in self.policy.outputs}

    @cached_property
    def act_pay_dedc(self) -> I64:
        """基本医保 deductible actually applied to each claim."""
        basic = [la for la in self.layers if la.output == "hifp_pay"]
        return self._unsort(basic[0].deductible_applied) if basic else np.zeros(len(self.claims), np.int64)

    @cached_property
    def fund_pay_sumamt(self) -> I64:
        total: I64 = np.sum(list(self.payments.values()), axis=0, dtype=np.int64)
        return total

    @cached_property
    def psn_part_amt(self) -> I64:
        return self.claims.medfee - self.fund_pay_sumamt

    def frame(self) -> pd.DataFrame:
        """The output contract, in fen (int64), one row per claim in input order."""
        columns = {
            "claim_id": self.claims.claim_id,
            "inscp_scp_amt": self.claims.inscp,
            "act_pay_dedc": self.act_pay_dedc,
            **self.payments,
            "fund_pay_sumamt": self.fund_pay_sumamt,
            "psn_part_amt": self.psn_part_amt,
        }
        return pd.DataFrame(columns)

    def delta(self) -> accumulators.Ledger:
        """What this batch added to the accumulators, per person, layer period and bucket touched."""
        return accumulators.delta(self.scanned.added, self.segments, self.policy)

    def closing(self) -> pd.DataFrame:
        """Closing accumulators: opening plus this batch (see :mod:`settlement.accumulators`)."""
        return accumulators.closing(self.openings.ledger, self.delta())

    @cached_property
    def detail(self) -> I64:
        """Every row's :data:`~settlement.scan.ROW_FIELDS` per layer (sorted order): kept when
        settled with ``explain=True``, otherwise by settling the batch again in detail."""
        kept = self.scanned.detail
        if kept is not None:
            return kept
        stack, openings = self.policy.stack, self.openings.by_segment()
        again = scan_layers(stack, self.sorted_batch, self.order, self.candidates, openings, detail=True)
        assert again.detail is not None
        return again.detail

    @cached_property
    def bucket_codes(self) -> I64:
        """Each sorted row's bucket code per layer (``[L, n]``; -1: no rule of the layer matched)."""
        codes: I64 = self.policy.stack.bucket_of_profile[:, self.scanned.profile]
        return codes

    def traces(self, layer: int) -> list[BucketTrace]:
        """Every claim's detail in each bucket of ``self.layers[layer]`` (see :attr:`detail`)."""
        first_code = int(self.policy.stack.bucket_offset[layer])
        return layer_traces(self.policy.layers[layer], first_code, self.bucket_codes[layer], self.detail[layer])


def _versions(claims: ClaimTable, policy: CompiledPolicy) -> I64:
    """Index of the parameter version in force on each claim's date (a lookup over the day range)."""
    if len(claims) == 0:
        return np.zeros(0, np.int64)
    start = policy.version_days[0]
    if int(claims.day.min()) < start:
        early = claims.day < start
        reason = f"before policy {policy.id} is in force ({policy.versions[0]})"
        raise ClaimValidationError([ClaimProblem(str(c), "settle_date", reason) for c in claims.claim_id[early]])
    first = int(claims.day.min())
    span = np.arange(first, int(claims.day.max()) + 1, dtype=np.int64)
    lookup = np.searchsorted(policy.version_days, span, side="right").astype(np.int64) - 1
    return lookup[claims.day - first]


def _tier_positions(claims: ClaimTable, policy: CompiledPolicy) -> I64:
    """Each claim's hospital tier as its position among the policy's tiers; a tier the policy does
    not declare is refused with the claims that carry it."""
    tiers, level = policy.profiles.tiers, claims.level
    lowest, highest = (int(level.min()), int(level.max())) if len(level) else (1, 1)
    if tiers == tuple(range(1, len(tiers) + 1)) and lowest >= 1 and highest <= len(tiers):
        return level - 1  # the usual tiers 1…N, every claim on one of them
    lookup = np.full(max(highest, tiers[-1]) + 1, -1, np.int64)
    lookup[list(tiers)] = np.arange(len(tiers), dtype=np.int64)
    position = lookup[np.maximum(level, 0)]
    known = (position >= 0) & (level >= 0)
    if not known.all():
        reason = f"unknown hospital tier; policy {policy.id} declares {list(policy.profiles.tiers)}"
        raise ClaimValidationError([ClaimProblem(str(c), "hospital_level", reason) for c in claims.claim_id[~known]])
    return position.astype(np.int64)


def _flag_bits(claims: ClaimTable, policy: CompiledPolicy) -> I64:
    """Each claim's attributes the policy's rules test, as bits in the policy's ``flags`` order:
    the claim's own (:data:`tiers.codes.CLAIM_FLAGS`), then each age band the person's age on the
    claim's day falls in (none without a birth date)."""
    bits = np.zeros(len(claims), np.int64)
    for i, flag in enumerate(policy.profiles.flags):
        if flag.startswith(AGE_FLAG):
            bits |= _in_band(claims, policy.policy.age_bands[flag.removeprefix(AGE_FLAG)]).astype(np.int64) << i
        elif claims.flags is not None:
            bits |= ((claims.flags >> CLAIM_FLAGS.index(flag)) & 1) << i
    return bits


def _in_band(claims: ClaimTable, band: AgeBand) -> npt.NDArray[np.bool_]:
    if claims.birth is None:
        return np.zeros(len(claims), bool)
    known = claims.birth != UNKNOWN_BIRTH
    age = ages(np.where(known, claims.birth, claims.day), claims.day)
    upper = band.to_age if band.to_age is not None else np.iinfo(np.int64).max
    inside: npt.NDArray[np.bool_] = known & (age >= band.from_age) & (age <= upper)
    return inside


def _check_categories(claims: ClaimTable, chosen: CategoryCandidates, policy: CompiledPolicy) -> None:
    """Candidate category codes beyond the policy's categories (a table built for another policy's
    own categories) are refused, naming the claims, never read as another category."""
    n_cat = policy.profiles.n_cat
    if len(chosen.category) and int(chosen.category.max()) >= n_cat:
        reason = f"a relief category policy {policy.id} does not have ({', '.join(policy.profiles.categories)})"
        owner = np.repeat(np.arange(len(claims), dtype=np.int64), chosen.counts)
        bad = np.unique(owner[chosen.category >= n_cat])
        raise ClaimValidationError([ClaimProblem(str(claims.claim_id[i]), "category", reason) for i in bad])


def _candidates(claims: ClaimTable, policy: CompiledPolicy) -> Candidates:
    """Each claim's candidate dated profiles (its candidate categories, its other fields)."""
    lists = policy.policy.disease_lists
    bits = np.zeros(len(claims.diagnoses), np.int64)
    for i, name in enumerate(policy.profiles.disease_lists):
        prefixes = lists[name].icd10_prefixes
        hit = np.array([str(d).startswith(prefixes) for d in claims.diagnoses], dtype=bool)
        bits |= hit.astype(np.int64) << i
    chosen = claims.category_candidates
    _check_categories(claims, chosen, policy)
    fields: tuple[I64, ...] = (claims.med, _tier_positions(claims, policy), bits[claims.diagnosis], claims.accident)
    if policy.profiles.flags:  # a policy whose rules test no claim attribute packs none
        fields = (*fields, _flag_bits(claims, policy))
    version = _versions(claims, policy)
    if claims.candidates is not None:  # a row per candidate
        claim = np.repeat(np.arange(len(claims), dtype=np.int64), chosen.counts)
        fields, version = tuple(f[claim] for f in fields), version[claim]
    profile = version * policy.profiles.size + policy.profiles.encode(chosen.category, *fields)
    return Candidates(chosen.start, profile)


def _order_keys(claims: ClaimTable, by_year: bool) -> tuple[I64, I64]:
    """What orders a person's claims: (settle_date, rank of claim_id), or with arrival numbers the
    rank of (arrival, claim_id) — within the year (``by_year``: the year's first day as the day,
    so the year still groups them), else over the person's whole batch (one day for all)."""
    if claims.arrival is None:
        return claims.day, claims.claim_rank
    rank = np.empty(len(claims), np.int64)
    rank[np.lexsort((claims.claim_rank, claims.arrival))] = np.arange(len(claims), dtype=np.int64)
    if not by_year:
        return np.zeros(len(claims), np.int64), rank
    years = claims.day.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    return years, rank


def _opening(
    opening: pd.DataFrame | accumulators.Ledger | None, policy: CompiledPolicy
) -> tuple[accumulators.Ledger, I64]:
    """The opening ledger, checked, and each entry's bucket code."""
    if isinstance(opening, pd.DataFrame):
        return accumulators.Ledger.checked_frame(opening, policy)
    ledger = accumulators.Ledger.empty() if opening is None else opening
    return ledger, ledger.check(policy)


def settle(
    claims: ClaimTable | pd.DataFrame,
    policy: CompiledPolicy | Policy,
    opening: pd.DataFrame | accumulators.Ledger | None = None,
    *,
    explain: bool = False,
) -> SettledBatch:
    """Settle a batch of claims under ``policy``, continuing from ``opening`` accumulators.

    ``explain`` keeps every claim's detail while settling (for :mod:`settlement.explanation` on a
    small batch, e.g. one real-time claim); otherwise it is recomputed when asked for.
    """
    compiled = policy if isinstance(policy, CompiledPolicy) else compile_policy(policy)
    table = (
        claims
        if isinstance(claims, ClaimTable)
        else from_frame(
            claims,
            settles_as=compiled.settles_as,
            categories=compiled.profiles.categories,
            dated_by=compiled.policy.dated_by,
        )
    )
    candidates = _candidates(table, compiled)
    start, start_bucket = _opening(opening, compiled)
    by_year = periods.calendar_only(compiled.period_starts)
    day, rank = _order_keys(table, by_year)
    several = table.candidates is not None
    first = candidates.profile[candidates.start[:-1]] if several else candidates.profile
    counts = np.diff(candidates.start) if several else np.zeros(0, np.int64)
    starts = compiled.period_starts
    layer_periods = None if by_year else periods.of_claims(table.day, starts)
    order, batch, table_of = sorted_batch(
        table.person, day, rank, table.inscp, first, counts, len(starts), layer_periods
    )
    segments = accumulators.Segments(
        table_of.person, table_of.first_period, table_of.last_period, table.persons, person_years=by_year
    )
    openings = accumulators.Openings.located(start, start_bucket, segments, compiled.stack.bucket_offset)
    scanned = scan_layers(compiled.stack, batch, order, candidates, openings.by_segment(), detail=explain)
    return SettledBatch(table, compiled, order, batch, candidates, segments, openings, scanned)
