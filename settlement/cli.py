"""``medrelief`` batch commands: settle claim files, reconcile, statements, simulate, list and show policies.

Each command imports the engine, pandas and what else it needs when it runs, so ``medrelief`` starts
without them (``--help`` answers at once). The year's accounts (second payout, post-hoc
assistance) are :mod:`settlement.accounts_cli`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from settlement.simulation.cli import simulate_command
from settlement.terminal import console, fail, fitted, out

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from settlement import io
    from settlement.engine import SettledBatch
    from settlement.reconcile import Reconciliation
    from tiers.schema import Policy
    from tiers.tables import CompiledPolicy

app = typer.Typer(
    help="medrelief: settle claims through 基本医保 → 大病保险 → 医疗救助 → 补充保险.", no_args_is_help=True
)
policy_app = typer.Typer(help="Inspect a policy's parameters.", no_args_is_help=True)


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        out.print(f"medrelief {version('medrelief')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """medrelief: settle claims through 基本医保 → 大病保险 → 医疗救助 → 补充保险."""


app.add_typer(policy_app, name="policy")
app.command("simulate")(simulate_command)


def summary_table(frame: pd.DataFrame, result: SettledBatch, seconds: float) -> Table:
    """The settled batch's totals per output column, for the console."""
    import numpy as np
    from rich.table import Table

    from settlement.engine import output_money
    from settlement.money import yuan_grouped

    table = Table(title=f"Settled {len(frame):,} claims under policy {result.policy.id} in {seconds:.2f} s")
    table.add_column("column", no_wrap=True)
    table.add_column("total (yuan)", justify="right", no_wrap=True)
    table.add_column("claims paid", justify="right", no_wrap=True)
    for column in output_money(result.policy.outputs):
        values = frame[column].to_numpy(np.int64)
        table.add_row(column, yuan_grouped(int(values.sum())), f"{int((values > 0).sum()):,}")
    return table


def _check_conservation(frame: pd.DataFrame, result: SettledBatch) -> None:
    import numpy as np

    total = frame[list(result.policy.outputs)].sum(axis=1) + frame["psn_part_amt"]
    if not np.array_equal(total.to_numpy(np.int64), result.claims.medfee):
        raise fail("internal error: total ≠ Σ layers + personal share; nothing written", 3)


def _claims(claims: Path, identities: Path | None, policy: CompiledPolicy) -> object:
    """The claim table of ``claims`` (visit types and categories as the policy declares them), its
    categories from ``identities`` when given."""
    from settlement import io
    from settlement.claims import from_frame
    from settlement.identities import IdentityPeriods, with_candidates

    with console.status("reading claims …"):
        frame = io.read_text_table(claims)
    console.print(f"read {len(frame):,} claims from {claims}")
    with console.status(f"validating {len(frame):,} claims …"):
        categories, settles_as, dated_by = policy.profiles.categories, policy.settles_as, policy.policy.dated_by
        if identities is None:
            return from_frame(frame, settles_as=settles_as, categories=categories, dated_by=dated_by)
        periods = IdentityPeriods.from_frame(io.read_text_table(identities), categories)
        table = from_frame(frame, identities=True, settles_as=settles_as, dated_by=dated_by)
        return with_candidates(table, periods)


@app.command("settle")
def settle_command(
    claims: Annotated[Path, typer.Argument(help="Claims file (.csv or .parquet) in the claim contract.")],
    out_path: Annotated[Path, typer.Option("--out", help="Result file (.csv or .parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file.")] = "demo",
    identities: Annotated[
        Path | None,
        typer.Option(help="Identity periods (person_id, category, valid_from, valid_to) instead of a category column."),
    ] = None,
    opening: Annotated[Path | None, typer.Option(help="Opening accumulators to continue from.")] = None,
    closing: Annotated[Path | None, typer.Option(help="Write the closing accumulators here.")] = None,
    explain_path: Annotated[Path | None, typer.Option("--explain", help="Write the per-layer explanation.")] = None,
) -> None:
    """Settle every claim of CLAIMS and write one result row per claim, in input order."""
    import numpy as np

    from settlement import io
    from settlement.accumulators import AccumulatorError
    from settlement.claims import ClaimTable, ClaimValidationError
    from settlement.engine import output_money, settle
    from settlement.explanation import MONEY as EXPLAIN_MONEY
    from settlement.explanation import explain
    from settlement.identities import IdentityValidationError
    from tiers.loader import PolicyError, load_policy
    from tiers.tables import compile_policy

    started = time.perf_counter()
    try:
        compiled = compile_policy(load_policy(policy))
        table = _claims(claims, identities, compiled)
        assert isinstance(table, ClaimTable)
        start = io.read_accumulators(opening) if opening else None
        with console.status(f"settling {len(table):,} claims …"):
            result = settle(table, compiled, start)
        money = output_money(compiled.outputs)
        settled = result.frame()[["claim_id", *money]]
        if identities is not None:  # the category each claim was settled under
            settled.insert(1, "category", np.asarray(compiled.profiles.categories, dtype=object)[result.category])
        _check_conservation(settled, result)
        outputs = [(out_path, settled, money)]
        if closing:
            outputs.append((closing, result.closing(), io.ACCUMULATOR_MONEY))
        if explain_path:
            with console.status("explaining …"):
                outputs.append((explain_path, explain(result), EXPLAIN_MONEY))
        for path, table_out, money in outputs:
            with console.status(f"writing {path} …"):
                io.write_table(table_out, path, money)
    except (ClaimValidationError, IdentityValidationError, PolicyError, AccumulatorError, io.TableFileError) as exc:
        raise fail(str(exc)) from exc
    out.print(fitted(summary_table(settled, result, time.perf_counter() - started)))
    written = [p for p in (out_path, closing, explain_path) if p]
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command("policies")
def policies_command() -> None:
    """List the bundled policies and their parameter versions."""
    from rich.table import Table

    from tiers.loader import bundled_names, load_policy
    from tiers.resolve import version_dates

    table = Table(title="Bundled policies")
    for column in ("name", "title", "region", "in force from", "versions"):
        table.add_column(column, overflow="fold")  # wrapped, never cut
    for name in bundled_names():
        policy = load_policy(name)
        versions = ", ".join(str(v) for v in version_dates(policy))
        table.add_row(name, policy.name, policy.region, str(policy.valid_from), versions)
    out.print(fitted(table))


@policy_app.command("show")
def policy_show(
    name: Annotated[str, typer.Argument(help="Bundled policy name or a policy YAML file.")],
    on: Annotated[str, typer.Option("--date", help="Date (YYYY-MM-DD) the parameters are in force.")] = "",
) -> None:
    """Print the parameters in force on a date: every layer, rule, deductible, band, cap."""
    from datetime import date

    from tiers.loader import PolicyError, load_policy
    from tiers.view import policy_rows

    try:
        policy = load_policy(name)
        when = date.fromisoformat(on) if on else date.today()
        rows = policy_rows(policy, when)
    except (PolicyError, ValueError, LookupError) as exc:
        raise fail(str(exc)) from exc
    out.print(f"[bold]{policy.id}[/] — {policy.name}: parameters in force on {when} (version {rows[0]['version']})")
    layer = ""
    for row in rows:
        if row["layer"] != layer:
            layer = row["layer"]
            out.print(f"\n[bold]{layer}[/]")
        out.print(f"  [cyan]{row['rule']}[/]: {row['applies to']} → bucket {row['bucket']}", highlight=False)
        for key in ("deductible", "bands", "cap", "per claim", "tilts", "period"):
            if row[key]:
                out.print(f"      {key}: {row[key]}", highlight=False)
    _print_assumptions(policy)


def _print_assumptions(policy: Policy) -> None:
    from tiers.view import assumptions

    found = assumptions(policy)
    out.print(f"\n[bold]Assumptions[/] ({len(found)}): interpretations this file makes where its sources are silent")
    for path, text in found:
        out.print(f"  [yellow]{path or 'policy'}[/]: {text}", highlight=False)


def _load(name: str) -> Policy:
    from tiers.loader import PolicyError, load_policy

    try:
        return load_policy(name)
    except PolicyError as exc:
        raise fail(str(exc)) from exc


@policy_app.command("check")
def policy_check(path: Annotated[str, typer.Argument(help="A policy YAML file (or a bundled name).")]) -> None:
    """Validate a region's policy file: every key, number, date and reference; compile it; print its
    versions, layers, visit types, hospital tiers, funds, reference figures and what it assumes.
    Exit status 2 with the file and key path of the first problem."""
    from tiers.resolve import version_dates
    from tiers.tables import compile_policy
    from tiers.vocabulary import Names

    policy = _load(path)
    try:
        compile_policy(policy)
    except (ValueError, LookupError) as exc:
        raise fail(f"{path}: {exc}") from exc
    rules = sum(len(layer.rules) for layer in (*policy.layers, *policy.post_hoc))
    versions = ", ".join(str(v) for v in version_dates(policy))
    shape = f"{len(policy.layers)} layers, {len(policy.post_hoc)} post-hoc programs, {rules} rules"
    out.print(f"[green]ok[/] {policy.id} — {policy.name} ({policy.region}): {shape}; versions from {versions}")
    visits = (f"{code} {policy.visit_type_name(code)}" + (f" → {to}" if to != code else "")
              for code, to in policy.settles_as().items())  # fmt: skip
    out.print(f"visit types: {', '.join(visits)}", highlight=False)
    names = Names(policy)
    out.print(f"hospital tiers: {', '.join(f'{t} {names.level(t)}' for t in policy.tiers())}", highlight=False)
    funds = (f"{la.output} {la.fund_pay_type_name or la.name} ({la.fund_pay_type or '-'}, NHSA {la.platform_field()})"
             for la in policy.layers)  # fmt: skip
    out.print(f"funds: {', '.join(funds)}", highlight=False)
    for la in policy.layers:
        if la.own_year:
            out.print(f"{la.output} accumulates over a year from {la.own_year.starts}", highlight=False)
    for name, band in policy.age_bands.items():
        ages = f"{band.from_age}–{band.to_age}" if band.to_age is not None else f"{band.from_age} and over"
        out.print(f"age band {name} ({band.name}): {ages} on the claim's day (birth_date)", highlight=False)
    for name, figure in policy.reference_figures.items():
        dated = ", ".join(f"{v.value:,.2f} from {v.from_}" for v in figure.values)  # noqa: PD011 (not pandas)
        out.print(f"reference figure {name} ({figure.name}): {dated}", highlight=False)
    _print_assumptions(policy)


@policy_app.command("diff")
def policy_diff_command(
    before: Annotated[str, typer.Argument(help="Bundled policy name or a policy YAML file.")],
    after: Annotated[str, typer.Argument(help="The policy to compare it with (the same one for two dates).")],
    dates: Annotated[
        list[str], typer.Option("--date", help="Date in force (YYYY-MM-DD); give it twice for two dates.")
    ],
) -> None:
    """What changes between two policies on a date, or between two dates (`--date D1 --date D2`):
    every deductible, band, ratio, cap, tilt and rule that differs, and the assumptions added or dropped."""
    from datetime import date

    from tiers.view import policy_diff

    if len(dates) not in (1, 2):
        raise fail("give --date once (both policies on that date) or twice (BEFORE on the first, AFTER on the second)")
    try:
        on = [date.fromisoformat(d) for d in dates]
    except ValueError as exc:
        raise fail(f"--date: {exc}") from exc
    old, new = _load(before), _load(after)
    try:
        changes = policy_diff(old, new, on[0], on[-1])
    except LookupError as exc:
        raise fail(str(exc)) from exc
    out.print(f"[bold]{old.id}[/] on {on[0]} → [bold]{new.id}[/] on {on[-1]}: {len(changes)} change(s)")
    for change in changes:
        where = f"{change['layer']} / {change['rule']}" if change["layer"] else change["rule"]
        out.print(f"  [cyan]{where}[/] {change['field']}: {change['before'] or '—'} → {change['after'] or '—'}",
                  highlight=False)  # fmt: skip


def _totals_table(result: Reconciliation) -> Table:
    import numpy as np
    from rich.table import Table

    from settlement.money import yuan_grouped

    table = Table(title="Totals (yuan)")
    for column in ("field", "ours", "theirs", "difference"):
        table.add_column(column, justify="left" if column == "field" else "right", no_wrap=True)
    totals = result.totals
    columns = [totals[c].to_numpy(np.int64).tolist() for c in ("ours", "theirs", "difference")]
    for field, *money in zip(totals["field"].tolist(), *columns, strict=True):
        table.add_row(str(field), *(yuan_grouped(m) for m in money))
    return table


def _grouped(
    ours: Path,
    theirs: Path,
    by: tuple[str, ...],
    mapping: io.ColumnMapping | None,
    fields: tuple[str, ...] | None,
    excluded: tuple[str, ...],
    out_path: Path | None,
) -> Reconciliation:
    """Both files read whole, reconciled per group (:mod:`settlement.reconcile_bulk`)."""
    from settlement import io
    from settlement.reconcile_bulk import reconcile_grouped

    result = reconcile_grouped(io.read_text_table(ours), io.read_text_table(theirs), by, mapping, fields, excluded)
    if out_path:
        io.write_table(result.report, out_path, ("ours", "theirs"))
    return result


@app.command("reconcile")
def reconcile_command(
    ours: Annotated[Path, typer.Argument(help="Our settlements (.csv/.parquet): key, refd_setl_flag, amounts.")],
    theirs: Annotated[Path, typer.Argument(help="Their payout records (.csv/.parquet).")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the per-row report here.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping their column names to ours.")] = None,
    key: Annotated[str, typer.Option(help="Key column (ours; theirs unless the mapping says).")] = "setl_id",
    fields: Annotated[
        str, typer.Option(help="Comma-separated money columns to compare (the others are named as not compared).")
    ] = "",
    exclude: Annotated[
        str, typer.Option(help="Comma-separated money columns not to compare (e.g. one only our export carries).")
    ] = "",
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            help="Comma-separated columns (ours; theirs mapped): compare sums per group — one payment, many "
            "settlements (e.g. institution_id,settle_month).",
        ),
    ] = "",
) -> None:
    """Match THEIRS to OURS by key; report every row; exit 0 on PASS, 1 on FAIL, 2 on bad input.

    Every money column either file carries is compared or named as not compared: a column holding
    amounts under a name that is not a money field (a typo, a column the mapping left out) or a
    field in one file only stops the command (exit 2) unless --exclude names it or --fields
    chooses the columns; the verdict line lists what was compared."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from settlement import io
    from settlement.reconcile import ReconcileError
    from settlement.reconcile_files import reconcile_files

    chosen = tuple(f.strip() for f in fields.split(",") if f.strip()) or None
    excluded = tuple(f.strip() for f in exclude.split(",") if f.strip())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            their_names = io.ColumnMapping.load(mapping) if mapping else None
            by = tuple(c.strip() for c in group_by.split(",") if c.strip())
            if by:
                result = _grouped(ours, theirs, by, their_names, chosen, excluded, out_path)
            else:
                summary = reconcile_files(ours, theirs, key, their_names, chosen, out_path, progress, excluded)
                result = summary.result
    except (ReconcileError, io.TableFileError) as exc:
        raise fail(str(exc)) from exc
    out.print(fitted(_totals_table(result)))
    out.print(result.summary_line(), highlight=False, soft_wrap=True)
    if not result.passed:
        raise typer.Exit(1)


from settlement import accounts_cli, monitor_cli, statement_cli  # noqa: E402, F401  (register their commands)
