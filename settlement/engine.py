"""The settlement engine: the four layers over a batch of claims, in one vectorised pass.

``settle(claims, policy, opening=None)`` sorts the batch once (person, settle_date, claim_id),
runs the layers in policy order — each on what the previous ones left of the in-policy amount
— and returns every claim's payments in input order, its explanation (on demand) and the
closing year-to-date accumulators. Opening accumulators make one claim the same computation
as a batch: settling a year in one batch equals settling it claim by claim, to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement import accumulators
from settlement.claims import ClaimTable, ClaimValidationError, Problem, from_frame
from settlement.layers import BucketTrace, SortedBatch, bucket_rows, settle_bucket
from tiers.codes import PAYMENT_COLUMNS
from tiers.schema import Policy
from tiers.tables import CompiledPolicy, compile_policy

I64 = npt.NDArray[np.int64]
EPOCH_YEAR = 1970


@dataclass(frozen=True)
class LayerResult:
    """One layer's payments (sorted order) and what each bucket did."""

    table_id: str
    output: str
    paid: I64
    traces: list[BucketTrace]


@dataclass(frozen=True)
class Settlement:
    """A settled batch. Money in int64 fen, arrays in input order unless named ``sorted``."""

    claims: ClaimTable
    policy: CompiledPolicy
    order: I64  # input positions in settlement order
    segments: accumulators.Segments
    layers: tuple[LayerResult, ...]
    opening: pd.DataFrame

    def _unsort(self, sorted_values: I64) -> I64:
        out = np.empty_like(sorted_values)
        out[self.order] = sorted_values
        return out

    @cached_property
    def payments(self) -> dict[str, I64]:
        """Layer payments per output column (zeros for a layer the policy lacks)."""
        paid = {la.output: self._unsort(la.paid) for la in self.layers}
        return {c: paid.get(c, np.zeros(len(self.claims), np.int64)) for c in PAYMENT_COLUMNS}

    @cached_property
    def act_pay_dedc(self) -> I64:
        """基本医保 deductible actually applied to each claim."""
        out = np.zeros(len(self.claims), np.int64)
        for layer in self.layers:
            if layer.output == "hifp_pay":
                for trace in layer.traces:
                    out[self.order[trace.rows]] = trace.deductible_applied
        return out

    @property
    def fund_pay_sumamt(self) -> I64:
        total: I64 = np.sum(list(self.payments.values()), axis=0, dtype=np.int64)
        return total

    @property
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

    def closing(self) -> pd.DataFrame:
        """Closing accumulators: opening plus this batch (see :mod:`settlement.accumulators`)."""
        added = {
            (layer.table_id, self.policy.layer_table(layer.table_id).buckets[t.bucket]): (t.segment, *t.totals())
            for layer in self.layers
            for t in layer.traces
        }
        return accumulators.closing(self.opening, added, self.segments)


def _sort_order(claims: ClaimTable) -> I64:
    n = len(claims)
    if n == 0:
        return np.zeros(0, np.int64)
    day0 = int(claims.day.min())
    days = int(claims.day.max()) - day0 + 1
    persons = len(claims.persons)
    if persons * days * n < 2**62:
        key = (claims.person * days + (claims.day - day0)) * n + claims.claim_rank
        return np.argsort(key).astype(np.int64)
    return np.lexsort((claims.claim_rank, claims.day, claims.person)).astype(np.int64)


def _years(day: I64) -> I64:
    """Calendar year of each day number (a lookup over the batch's range of days)."""
    if len(day) == 0:
        return day.copy()
    first = int(day.min())
    span = np.arange(first, int(day.max()) + 1, dtype=np.int64)
    lookup = span.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + EPOCH_YEAR
    return lookup[day - first]


def _versions(claims: ClaimTable, policy: CompiledPolicy) -> I64:
    """Index of the parameter version in force on each claim's date (a lookup over the day range)."""
    if len(claims) == 0:
        return np.zeros(0, np.int64)
    start = policy.version_days[0]
    if int(claims.day.min()) < start:
        early = claims.day < start
        reason = f"before policy {policy.id} is in force ({policy.versions[0]})"
        raise ClaimValidationError([Problem(str(c), "settle_date", reason) for c in claims.claim_id[early]])
    first = int(claims.day.min())
    span = np.arange(first, int(claims.day.max()) + 1, dtype=np.int64)
    lookup = np.searchsorted(policy.version_days, span, side="right").astype(np.int64) - 1
    return lookup[claims.day - first]


def _profiles(claims: ClaimTable, policy: CompiledPolicy) -> I64:
    lists = policy.policy.disease_lists
    bits = np.zeros(len(claims.diagnoses), np.int64)
    for i, name in enumerate(policy.profiles.disease_lists):
        prefixes = lists[name].icd10_prefixes
        hit = np.array([str(d).startswith(prefixes) for d in claims.diagnoses], dtype=bool)
        bits |= hit.astype(np.int64) << i
    return policy.profiles.encode(claims.category, claims.med, claims.level, bits[claims.diagnosis], claims.accident)


def _segments(claims: ClaimTable, order: I64) -> tuple[accumulators.Segments, I64]:
    person, year = claims.person[order], _years(claims.day)[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (person[1:] != person[:-1]) | (year[1:] != year[:-1])
    starts = np.flatnonzero(new)
    segments = accumulators.Segments(person[starts], year[starts], claims.persons)
    return segments, np.cumsum(new, dtype=np.int64) - 1


def settle(
    claims: ClaimTable | pd.DataFrame,
    policy: CompiledPolicy | Policy,
    opening: pd.DataFrame | None = None,
) -> Settlement:
    """Settle a batch of claims under ``policy``, continuing from ``opening`` accumulators."""
    table = claims if isinstance(claims, ClaimTable) else from_frame(claims)
    compiled = policy if isinstance(policy, CompiledPolicy) else compile_policy(policy)
    version = _versions(table, compiled)
    start = accumulators.empty() if opening is None else accumulators.check(opening, compiled)
    order = _sort_order(table)
    segments, segment = _segments(table, order)
    dated_profile = version * compiled.profiles.size + _profiles(table, compiled)
    batch = SortedBatch(profile=dated_profile[order], segment=segment)
    residual = table.inscp[order]
    opening_segment = segments.locate(start["person_id"], start["year"])
    results = []
    for layer in compiled.layers:
        paid = np.zeros(len(order), np.int64)
        traces = []
        for b, rows in enumerate(bucket_rows(layer, batch.profile)):
            if len(rows) == 0:
                continue
            bucket = accumulators.opening_for(start, opening_segment, len(segments.person), layer.id, layer.buckets[b])
            trace = settle_bucket(layer, b, rows, batch, residual, bucket)
            paid[rows] = trace.paid
            traces.append(trace)
        residual = residual - paid
        results.append(LayerResult(layer.id, layer.output, paid, traces))
    return Settlement(table, compiled, order, segments, tuple(results), start)
