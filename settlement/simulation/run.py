"""``simulate()``: a cohort settled under a baseline and its reforms, N replications, here or on Dask.

The work is a list of blocks (replication × block of persons, see
:mod:`settlement.simulation.cohort`); each block is settled under every scenario by
:func:`~settlement.simulation.blocks.evaluate`, the blocks of a replication are combined in
block order and measured (:mod:`settlement.simulation.outcomes`). In this process the blocks run
one after the other; with a ``distributed.Client`` they run on its workers and come back in any
order, but are combined in the same order — so the tables are identical, to the fen.

Monte Carlo: replication *r* draws its blocks from ``SeedSequence([seed, r, block])``;
:func:`bands` summarises every scalar metric over replications (mean and percentile band).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from settlement.claims import ClaimTable
from settlement.simulation.blocks import PERSON_MONEY, BlockResult, Source, Synthetic, combine, evaluate, partition
from settlement.simulation.cohort import CohortSpec
from settlement.simulation.outcomes import ALL, Measures, deltas, measure
from settlement.simulation.reform import Stylised, load_stylised, stylised
from tiers.schema import Policy
from tiers.tables import CompiledPolicy, compile_policy

if TYPE_CHECKING:
    from distributed import Client

Progress = Callable[[int, int], None]
"""Called with (blocks done, blocks in all) as blocks finish."""
DEFAULT_THRESHOLDS = (500_000, 1_000_000, 2_000_000)
"""Out-of-pocket thresholds (fen): 5,000, 10,000 and 20,000 yuan a year."""
PERSONS_PER_FILE_BLOCK = 50_000


class SimulationError(ValueError):
    """A simulation that cannot run as asked (e.g. replications of a file cohort)."""


@dataclass(frozen=True)
class Simulation:
    """Every table of a run; ``deltas`` per person for replication 0."""

    measures: Measures
    bands: pd.DataFrame
    deltas: pd.DataFrame
    policies: dict[str, Policy]
    year: int
    replications: int
    stylised: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {**self.measures.tables(), "bands": self.bands, "stylised": self.stylised}


def simulate(
    cohort: CohortSpec | ClaimTable,
    policies: dict[str, Policy],
    *,
    seed: int = 0,
    replications: int = 1,
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS,
    client: Client | None = None,
    progress: Progress | None = None,
    cases: Stylised | None = None,
) -> Simulation:
    """Settle ``cohort`` under each of ``policies`` (the baseline first) and measure the outcomes;
    ``cases``: the stylised cases of the out-of-pocket curves (default ``defaults/stylised.yaml``)."""
    if replications < 1:
        raise SimulationError("replications must be at least 1")
    year, work = _work(cohort, seed, replications)
    compiled = {name: compile_policy(policy) for name, policy in policies.items()}
    results = _run_here(work, compiled, progress) if client is None else _run_on(client, work, compiled, progress)
    parts, person_deltas = [], pd.DataFrame()
    for r, combined in enumerate(results):
        parts.append(measure(combined, policies, year, r, thresholds))
        if r == 0:
            person_deltas = deltas(combined)
    measures = Measures.stack(parts)
    categories = [c for c in pd.unique(measures.oop["category"]) if c != ALL]
    curves = stylised(compiled, cases or load_stylised(), categories, year)
    return Simulation(measures, bands(measures), person_deltas, policies, year, replications, curves)


def _work(cohort: CohortSpec | ClaimTable, seed: int, replications: int) -> tuple[int, list[list[Source]]]:
    if isinstance(cohort, CohortSpec):
        blocks = range(cohort.n_blocks)
        return cohort.year, [[Synthetic(cohort, seed, r, b) for b in blocks] for r in range(replications)]
    if replications != 1:
        raise SimulationError("a cohort of real claims is one replication; replications need a synthetic cohort")
    years = np.unique(cohort.year)
    if len(years) != 1:
        raise SimulationError(f"a cohort is one year; the claims span {years.tolist()}")
    parts = max(1, -(-len(cohort.persons) // PERSONS_PER_FILE_BLOCK))
    return int(years[0]), [partition(cohort, parts)]


def _run_here(
    work: list[list[Source]], compiled: dict[str, CompiledPolicy], progress: Progress | None
) -> Iterator[BlockResult]:
    total, done = sum(len(w) for w in work), 0
    for sources in work:
        results = []
        for source in sources:
            results.append(evaluate(source, compiled))
            done += 1
            if progress:
                progress(done, total)
        yield combine(results)


def _run_on(
    client: Client, work: list[list[Source]], compiled: dict[str, CompiledPolicy], progress: Progress | None
) -> Iterator[BlockResult]:
    """The same blocks on a Dask cluster; each replication combined in block order."""
    from distributed import as_completed

    shared = client.scatter(compiled, broadcast=True)
    futures = [[client.submit(evaluate, s, shared, pure=False) for s in sources] for sources in work]
    where = {f.key: (r, b) for r, fs in enumerate(futures) for b, f in enumerate(fs)}
    arrived: list[dict[int, BlockResult]] = [{} for _ in work]
    total, next_r = len(where), 0
    for done, future in enumerate(as_completed([f for fs in futures for f in fs]), start=1):
        r, b = where[future.key]
        arrived[r][b] = future.result()
        future.release()
        if progress:
            progress(done, total)
        while next_r < len(work) and len(arrived[next_r]) == len(work[next_r]):
            yield combine([arrived[next_r][b] for b in range(len(work[next_r]))])
            arrived[next_r] = {}
            next_r += 1


def _long(measures: Measures) -> pd.DataFrame:
    keys = ["scenario", "replication"]
    money = measures.summary.melt(keys, [*PERSON_MONEY, "reimbursement_ratio"], var_name="metric")
    caps = measures.caps.assign(metric="cap_reached:" + measures.caps["cap"], value=measures.caps["persons"])
    supp = measures.supplementary.melt(keys, ["loss_ratio", "second_payout_due"], var_name="metric")
    oop = measures.oop[measures.oop["category"] == ALL]
    oop_long = oop.melt(keys, ["mean", "p50", "p90", "p99"], var_name="metric").assign(
        metric=lambda f: "psn_part_amt_" + f["metric"]
    )
    parts = [money, caps[[*keys, "metric", "value"]], supp, oop_long]
    return pd.concat([p.astype({"value": float}) for p in parts], ignore_index=True)


def _unit(metric: pd.Series) -> pd.Series:
    money = metric.isin([*PERSON_MONEY, "second_payout_due"]) | metric.str.startswith("psn_part_amt_")
    ratio = metric.isin(["reimbursement_ratio", "loss_ratio"])
    return pd.Series(np.select([money, ratio], ["yuan", "percent"], "persons"), index=metric.index)


def bands(measures: Measures) -> pd.DataFrame:
    """Every scalar metric across replications: mean and the 5th/50th/95th percentiles.

    Shown in ``unit``: money in yuan, ratios in percent, counts of persons.
    """
    long = _long(measures)
    long["unit"] = _unit(long["metric"])
    scale = long["unit"].map({"yuan": 0.01, "percent": 100.0, "persons": 1.0})
    long["value"] = long["value"] * scale
    grouped = long.groupby(["scenario", "metric", "unit"], sort=False)["value"]
    frame = grouped.agg(
        replications="count",
        mean="mean",
        p05=lambda v: float(np.percentile(v, 5)),
        p50="median",
        p95=lambda v: float(np.percentile(v, 95)),
    )
    return frame.round(2).reset_index()
