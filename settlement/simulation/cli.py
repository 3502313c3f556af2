"""``medrelief simulate``: a cohort under a baseline and its reforms → tables, charts, an HTML report.

The engine, pandas and Dask are imported when the command runs, not when ``medrelief`` starts.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from contextlib import nullcontext
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from settlement.terminal import console, fitted, out
from settlement.terminal import fail as _fail

if TYPE_CHECKING:
    from settlement.claims import ClaimTable
    from settlement.simulation import cohort as cohorts
    from settlement.simulation.reform import Stylised
    from settlement.simulation.run import Simulation
    from tiers.reforms import ScenarioSet
    from tiers.schema import Policy

DEFAULT_SCENARIOS = Path(__file__).with_name("defaults") / "scenarios.yaml"
DEFAULT_STYLISED = Path(__file__).with_name("defaults") / "stylised.yaml"


@dataclass(frozen=True)
class Run:
    """The options of a run, to say how to reproduce it: the full command and each input's hash."""

    cohort: Path | None
    claims: Path | None
    persons: int | None
    scenarios: Path
    stylised: Path
    seed: int
    replications: int
    out: Path
    file_format: str

    def command(self) -> str:
        source = ["--claims", str(self.claims)] if self.claims else ["--cohort", str(self.cohort or _cohort_file())]
        persons = ["--persons", str(self.persons)] if self.persons else []
        options = [*source, *persons, "--scenarios", str(self.scenarios), "--stylised", str(self.stylised),
                   "--seed", str(self.seed), "--replications", str(self.replications), "--out", str(self.out),
                   "--format", self.file_format]  # fmt: skip
        return shlex.join(["medrelief", "simulate", *options])

    def reproduce(self, policies: dict[str, Policy]) -> tuple[list[tuple[str, str]], str]:
        """(label, value) lines — version, inputs with their SHA-256, each scenario's policy hash — and the command."""
        files = [("claims" if self.claims else "cohort", self.claims or self.cohort or _cohort_file()),
                 ("scenarios", self.scenarios), ("stylised cases", self.stylised)]  # fmt: skip
        lines = [("medrelief", version("medrelief")), ("seed", str(self.seed))]
        lines += [(name, f"{path} sha256:{_sha256(path.read_bytes())}") for name, path in files]
        lines += [
            (f"policy {name}", f"{p.id} sha256:{_sha256(p.model_dump_json().encode())}") for name, p in policies.items()
        ]
        return lines, self.command()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cohort_file() -> Path:
    from settlement.simulation import cohort as cohorts

    return Path(cohorts.DEFAULT)


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

    from settlement.simulation.report import cell

    frame = result.measures.summary[result.measures.summary["replication"] == 0]
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
    seed: Annotated[int, typer.Option(min=0, help="Seed of the synthetic cohort (README's figures: 1).")] = 1,
    replications: Annotated[int, typer.Option(min=1, help="Monte Carlo replications (synthetic cohorts).")] = 1,
    dask: Annotated[bool, typer.Option("--dask", help="Run the blocks on a Dask LocalCluster.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Workers of the LocalCluster.")] = 2,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler (implies --dask).")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the tables, charts and report.html.")] = Path(
        "out/simulation"
    ),
    file_format: Annotated[Literal["csv", "parquet"], typer.Option("--format")] = "csv",
    person_deltas: Annotated[bool, typer.Option("--person-deltas", help="Also write each person's deltas.")] = False,
    stylised: Annotated[
        Path, typer.Option(help="Stylised cases of the out-of-pocket curves (YAML).")
    ] = DEFAULT_STYLISED,
) -> None:
    """Simulate a cohort under a baseline policy and its reforms; write tables, charts and an HTML report."""
    from pydantic import ValidationError

    from settlement import io
    from settlement.claims import ClaimValidationError
    from settlement.simulation.figures import Labels, charts
    from settlement.simulation.page import Report, render
    from settlement.simulation.reform import load_stylised
    from settlement.simulation.report import write_tables
    from tiers.loader import PolicyError
    from tiers.reforms import BASELINE, load_scenarios, scenario_policies
    from tiers.vocabulary import Names

    try:
        source = _cohort(cohort, claims, persons)
        scenario_set = load_scenarios(scenarios)
        policies = scenario_policies(scenario_set)
        cases = load_stylised(stylised)
    except (PolicyError, ClaimValidationError, io.TableFileError, OSError, ValidationError) as exc:
        raise _fail(f"{exc}") from exc
    started = time.perf_counter()
    result = _run(source, policies, seed, replications, scheduler, workers if (dask or scheduler) else None, cases)
    seconds = time.perf_counter() - started
    paths = write_tables(result, out, f".{file_format}", person_deltas)
    images = charts(result, Labels(Names(policies[BASELINE])))
    for name, png in images.items():
        (out / "charts").mkdir(parents=True, exist_ok=True)
        (out / "charts" / f"{name}.png").write_bytes(png)
    report = out / "report.html"
    runs = Run(cohort, claims, persons, scenarios, stylised, seed, replications, out, file_format)
    page = Report(
        "medrelief — scenario comparison", _notes(source, scenario_set, seed, result), *runs.reproduce(policies)
    )
    report.write_text(render(result, images, page), "utf-8")
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
    cases: Stylised,
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
                    source, policies, seed=seed, replications=replications, client=client, progress=progress,
                    cases=cases,
                )  # fmt: skip
            except SimulationError as exc:
                raise _fail(str(exc)) from exc


def _client(scheduler: str | None, workers: int):  # type: ignore[no-untyped-def]
    from settlement.simulation.cluster import dask_client

    return dask_client(scheduler, workers)
