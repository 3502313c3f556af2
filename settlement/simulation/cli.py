"""``medrelief simulate``: a cohort under a baseline and its reforms → tables, charts, an HTML report.

The engine, pandas and Dask are imported when the command runs, not when ``medrelief`` starts.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from settlement.terminal import console, fitted, out
from settlement.terminal import fail as _fail

if TYPE_CHECKING:
    from settlement.claims import ClaimTable
    from settlement.simulation import cohort as cohorts
    from settlement.simulation.run import Simulation
    from tiers.reforms import ScenarioSet
    from tiers.schema import Policy

DEFAULT_SCENARIOS = Path(__file__).with_name("defaults") / "scenarios.yaml"


def _cohort(cohort: Path | None, claims: Path | None, persons: int | None) -> cohorts.CohortSpec | ClaimTable:
    from settlement import io
    from settlement.claims import from_frame
    from settlement.simulation import cohort as cohorts

    if claims is not None:
        if cohort is not None or persons is not None:
            raise typer.BadParameter("--claims replaces --cohort and --persons")
        return from_frame(io.read_text_table(claims))
    spec = cohorts.load_cohort(cohort or cohorts.DEFAULT)
    return spec.with_persons(persons) if persons else spec


def _notes(source: cohorts.CohortSpec | ClaimTable, scenarios: ScenarioSet, seed: int, result: Simulation) -> list[str]:
    from settlement.simulation import cohort as cohorts

    if isinstance(source, cohorts.CohortSpec):
        what = f"synthetic cohort '{source.id}': {source.persons:,} persons, year {source.year}, seed {seed}"
    else:
        what = f"real claims: {len(source):,} claims of {len(source.persons):,} persons, year {result.year}"
    lines = [what, f"replications: {result.replications}", f"baseline policy: {scenarios.baseline}"]
    for s in scenarios.scenarios:
        changes = "; ".join(
            f"{c.path} {c.operation} {c.set_ if c.operation == 'set' else getattr(c, c.operation)}" for c in s.changes
        )
        lines.append(f"scenario {s.id} ({s.name or ''}): {changes}")
    return lines


def _print_summary(result: Simulation) -> None:
    from rich.table import Table

    from settlement.simulation.report import cell, shown

    frame = shown(result)["summary"]
    columns = ["scenario", "fund_pay_sumamt", "psn_part_amt", "reimbursement_ratio"]
    table = Table(title="Replication 0 (yuan)")
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right", no_wrap=True)
    for row in zip(*[frame[c].tolist() for c in columns], strict=True):
        table.add_row(*[cell("summary", c, v) for c, v in zip(columns, row, strict=True)])
    out.print(fitted(table))


def simulate_command(
    cohort: Annotated[Path | None, typer.Option(help="Cohort YAML (default: the bundled calibrated cohort).")] = None,
    claims: Annotated[
        Path | None, typer.Option(help="Real claims (CSV/Parquet, the claim contract) instead of a cohort.")
    ] = None,
    persons: Annotated[int | None, typer.Option(min=1, help="Override the cohort's number of persons.")] = None,
    scenarios: Annotated[Path, typer.Option(help="Baseline and reforms (YAML).")] = DEFAULT_SCENARIOS,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    replications: Annotated[int, typer.Option(min=1, help="Monte Carlo replications (synthetic cohorts).")] = 1,
    dask: Annotated[bool, typer.Option("--dask", help="Run the blocks on a Dask LocalCluster.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Workers of the LocalCluster.")] = 2,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler (implies --dask).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the tables, charts and report.html.")] = Path(
        "out/simulation"
    ),
    file_format: Annotated[Literal["csv", "parquet"], typer.Option("--format")] = "csv",
    person_deltas: Annotated[bool, typer.Option("--person-deltas", help="Also write each person's deltas.")] = False,
) -> None:
    """Simulate a cohort under a baseline policy and its reforms; write tables, charts and an HTML report."""
    from settlement import io
    from settlement.claims import ClaimValidationError
    from settlement.simulation.report import charts, render, write_tables
    from tiers.loader import PolicyError
    from tiers.reforms import load_scenarios, scenario_policies

    try:
        source = _cohort(cohort, claims, persons)
        scenario_set = load_scenarios(scenarios)
        policies = scenario_policies(scenario_set)
    except (PolicyError, ClaimValidationError, io.TableFileError) as exc:
        raise _fail(str(exc)) from exc
    started = time.perf_counter()
    result = _run(source, policies, seed, replications, scheduler, workers if (dask or scheduler) else None)
    seconds = time.perf_counter() - started
    paths = write_tables(result, out, f".{file_format}", person_deltas)
    images = charts(result)
    for name, png in images.items():
        (out / "charts").mkdir(parents=True, exist_ok=True)
        (out / "charts" / f"{name}.png").write_bytes(png)
    report = out / "report.html"
    report.write_text(
        render(result, images, "medrelief — scenario comparison", _notes(source, scenario_set, seed, result)), "utf-8"
    )
    _print_summary(result)
    console.print(f"{len(policies)} scenarios × {replications} replication(s) settled in {seconds:.1f} s")
    console.print(f"wrote {len(paths)} tables, {len(images)} charts and {report}")


def _run(
    source: cohorts.CohortSpec | ClaimTable,
    policies: dict[str, Policy],
    seed: int,
    replications: int,
    scheduler: str | None,
    workers: int | None,
) -> Simulation:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from settlement.simulation.run import SimulationError, simulate

    columns = (TextColumn("settling blocks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("blocks", total=None)
        progress = lambda done, total: bar.update(task, completed=done, total=total)  # noqa: E731
        cluster = _client(scheduler, workers) if workers else nullcontext(None)
        with cluster as client:
            try:
                return simulate(
                    source, policies, seed=seed, replications=replications, client=client, progress=progress
                )
            except SimulationError as exc:
                raise _fail(str(exc)) from exc


def _client(scheduler: str | None, workers: int):  # type: ignore[no-untyped-def]
    from settlement.simulation.cluster import dask_client

    return dask_client(scheduler, workers)
