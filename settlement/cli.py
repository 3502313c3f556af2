"""``medrelief`` command line: settle claim files, reconcile, statements, simulate, list and show policies."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from settlement import io
from settlement.accumulators import AccumulatorError
from settlement.claims import ClaimValidationError, from_frame
from settlement.engine import OUTPUT_MONEY, Settlement, settle
from settlement.explain import MONEY as EXPLAIN_MONEY
from settlement.explain import explain
from settlement.money import fen_to_decimal, parse_signed_yuan
from settlement.posthoc import person_years, settle_program
from settlement.reconcile import ReconcileError, Reconciliation
from settlement.reconcile_files import reconcile_files
from settlement.simulation.cli import simulate_command
from settlement.statement import MONEY as STATEMENT_MONEY
from settlement.statement import monthly, render_html
from settlement.statement import totals as statement_totals
from settlement.supplementary import (
    YearAccount,
    account,
    funded_layer,
    insured_categories,
    remaining_selfpay,
    year_terms,
)
from settlement.terminal import console
from settlement.terminal import fail as _fail
from tiers.codes import CATEGORIES, PAYMENT_COLUMNS
from tiers.loader import PolicyError, bundled_names, load_policy
from tiers.schema import Layer, Policy
from tiers.tables import compile_policy
from tiers.view import policy_rows

app = typer.Typer(
    help="medrelief: settle claims through 基本医保 → 大病保险 → 医疗救助 → 补充保险.", no_args_is_help=True
)
policy_app = typer.Typer(help="Inspect a policy's parameters.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.command("simulate")(simulate_command)
out = Console()

RESULT_COLUMNS = ("claim_id", *OUTPUT_MONEY)
RESULT_MONEY = OUTPUT_MONEY


def _summary(frame: pd.DataFrame, result: Settlement, seconds: float) -> Table:
    table = Table(title=f"Settled {len(frame):,} claims under policy {result.policy.id} in {seconds:.2f} s")
    table.add_column("column")
    table.add_column("total (yuan)", justify="right")
    table.add_column("claims paid", justify="right")
    for column in RESULT_MONEY:
        values = frame[column].to_numpy(np.int64)
        table.add_row(column, f"{fen_to_decimal(int(values.sum())):,}", f"{int((values > 0).sum()):,}")
    return table


def _check_conservation(frame: pd.DataFrame, result: Settlement) -> None:
    total = frame[list(PAYMENT_COLUMNS)].sum(axis=1) + frame["psn_part_amt"]
    if not np.array_equal(total.to_numpy(np.int64), result.claims.medfee):
        raise _fail("internal error: total ≠ Σ layers + personal share; nothing written", 3)


@app.command("settle")
def settle_command(
    claims: Annotated[Path, typer.Argument(help="Claims file (.csv or .parquet) in the claim contract.")],
    out_path: Annotated[Path, typer.Option("--out", help="Result file (.csv or .parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file.")] = "demo",
    opening: Annotated[Path | None, typer.Option(help="Opening accumulators to continue from.")] = None,
    closing: Annotated[Path | None, typer.Option(help="Write the closing accumulators here.")] = None,
    explain_path: Annotated[Path | None, typer.Option("--explain", help="Write the per-layer explanation.")] = None,
) -> None:
    """Settle every claim of CLAIMS and write one result row per claim, in input order."""
    started = time.perf_counter()
    try:
        with console.status("reading claims …"):
            frame = io.read_text_table(claims)
        console.print(f"read {len(frame):,} claims from {claims}")
        with console.status(f"validating {len(frame):,} claims …"):
            table = from_frame(frame)
            del frame
            compiled = compile_policy(load_policy(policy))
            start = io.read_accumulators(opening) if opening else None
        with console.status(f"settling {len(table):,} claims …"):
            result = settle(table, compiled, start)
        settled = result.frame()[list(RESULT_COLUMNS)]
        _check_conservation(settled, result)
        with console.status("preparing output …"):
            outputs = [(out_path, settled, RESULT_MONEY)]
            if closing:
                outputs.append((closing, result.closing(), io.ACCUMULATOR_MONEY))
            if explain_path:
                outputs.append((explain_path, explain(result), EXPLAIN_MONEY))
        for path, table_out, money in outputs:
            with console.status(f"writing {path} …"):
                io.write_table(table_out, path, money)
    except (ClaimValidationError, PolicyError, AccumulatorError, io.TableFileError) as exc:
        raise _fail(str(exc)) from exc
    out.print(_summary(settled, result, time.perf_counter() - started))
    written = [p for p in (out_path, closing, explain_path) if p]
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command("policies")
def policies_command() -> None:
    """List the bundled policies and their parameter versions."""
    table = Table(title="Bundled policies")
    for column in ("name", "title", "region", "in force from", "versions"):
        table.add_column(column)
    for name in bundled_names():
        policy = load_policy(name)
        versions = ", ".join(str(v) for v in compile_policy(policy).versions)
        table.add_row(name, policy.name, policy.region, str(policy.valid_from), versions)
    out.print(table)


@policy_app.command("show")
def policy_show(
    name: Annotated[str, typer.Argument(help="Bundled policy name or a policy YAML file.")],
    on: Annotated[str, typer.Option("--date", help="Date (YYYY-MM-DD) the parameters are in force.")] = "",
) -> None:
    """Print the parameters in force on a date: every layer, rule, deductible, band, cap."""
    try:
        policy = load_policy(name)
        when = date.fromisoformat(on) if on else date.today()
        rows = policy_rows(policy, when)
    except (PolicyError, ValueError, LookupError) as exc:
        raise _fail(str(exc)) from exc
    out.print(f"[bold]{policy.id}[/] — {policy.name}: parameters in force on {when} (version {rows[0]['version']})")
    layer = ""
    for row in rows:
        if row["layer"] != layer:
            layer = row["layer"]
            out.print(f"\n[bold]{layer}[/]")
        out.print(f"  [cyan]{row['rule']}[/]: {row['applies to']} → bucket {row['bucket']}", highlight=False)
        for key in ("deductible", "bands", "cap", "tilts"):
            if row[key]:
                out.print(f"      {key}: {row[key]}", highlight=False)


def _totals_table(result: Reconciliation) -> Table:
    table = Table(title="Totals (yuan)")
    for column in ("field", "ours", "theirs", "difference"):
        table.add_column(column, justify="left" if column == "field" else "right")
    totals = result.totals
    columns = [totals[c].to_numpy(np.int64).tolist() for c in ("ours", "theirs", "difference")]
    for field, *money in zip(totals["field"].tolist(), *columns, strict=True):
        table.add_row(str(field), *(f"{fen_to_decimal(m):,}" for m in money))
    return table


@app.command("reconcile")
def reconcile_command(
    ours: Annotated[Path, typer.Argument(help="Our settlements (.csv/.parquet): key, refd_setl_flag, amounts.")],
    theirs: Annotated[Path, typer.Argument(help="Their payout records (.csv/.parquet).")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the per-row report here.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping their column names to ours.")] = None,
    key: Annotated[str, typer.Option(help="Key column (ours; theirs unless the mapping says).")] = "setl_id",
    fields: Annotated[str, typer.Option(help="Comma-separated money columns (default: all shared).")] = "",
) -> None:
    """Match THEIRS to OURS by key; report every row; exit 0 on PASS, 1 on FAIL, 2 on bad input."""
    chosen = tuple(f.strip() for f in fields.split(",") if f.strip()) or None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            their_names = io.ColumnMapping.load(mapping) if mapping else None
            summary = reconcile_files(ours, theirs, key, their_names, chosen, out_path, progress)
    except (ReconcileError, io.TableFileError) as exc:
        raise _fail(str(exc)) from exc
    result = summary.result
    out.print(_totals_table(result))
    out.print(result.summary_line(), highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def _funded_layer(policy: Policy) -> Layer:
    layer = funded_layer(policy)
    if layer is None:
        raise PolicyError(policy.id, "layers", "no supplementary layer (output supp_pay) with a funding block")
    return layer


@app.command("second-payout")
def second_payout_command(
    claims: Annotated[Path, typer.Argument(help="The year's claims (.csv or .parquet) in the claim contract.")],
    insured: Annotated[int, typer.Option(min=1, help="Insured persons of the supplementary policy that year.")],
    out_path: Annotated[Path, typer.Option("--out", help="Per-person second payouts (.csv or .parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file.")] = "nantong",
) -> None:
    """Premium, first payouts, loss ratio and the 二次赔付 due per year, allocated to persons."""
    try:
        loaded = load_policy(policy)
        layer = _funded_layer(loaded)
        table = from_frame(io.read_text_table(claims))
        frame = settle(table, compile_policy(loaded)).frame()
    except (ClaimValidationError, PolicyError, io.TableFileError) as exc:
        raise _fail(str(exc)) from exc
    covered = insured_categories(layer)
    category = np.asarray(CATEGORIES, dtype=object)[table.category]
    frame = frame.assign(person_id=table.persons[table.person], year=table.year, category=category)
    people = remaining_selfpay(frame if covered is None else frame[frame["category"].isin(covered)])
    accounts, parts = [], []
    for year in sorted(set(frame["year"].tolist())):
        mine = people[people["year"] == year]
        per_person, floor = year_terms(layer, year)
        paid = int(frame.loc[frame["year"] == year, "supp_pay"].sum())
        remaining = np.maximum(mine["remaining"].to_numpy(np.int64), 0)
        result, shares = account(year, insured, per_person, floor, paid, remaining)
        accounts.append(result)
        parts.append(mine.assign(second_payout=shares))
    allocation = pd.concat(parts, ignore_index=True)[["person_id", "year", "remaining", "paid", "second_payout"]]
    io.write_table(
        allocation.rename(columns={"paid": "first_payout"}), out_path, ("remaining", "first_payout", "second_payout")
    )
    out.print(_accounts_table(accounts, layer.name))
    console.print(f"wrote {out_path} ({len(allocation):,} persons)")


def _accounts_table(accounts: list[YearAccount], name: str) -> Table:
    table = Table(title=f"{name}: premium, payouts and the second payout (yuan)")
    columns = (
        "year",
        "insured",
        "premium",
        "first payouts",
        "loss ratio",
        "floor",
        "second payout",
        "allocated",
        "undistributed",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for a in accounts:
        money = [f"{fen_to_decimal(v):,}" for v in (a.premium, a.paid)]
        tail = [f"{fen_to_decimal(v):,}" for v in (a.due, a.allocated, a.undistributed)]
        ratio = f"{a.loss_ratio * 100:.2f}%"
        table.add_row(str(a.year), f"{a.insured:,}", *money, ratio, f"{a.floor * 100:.0f}%", *tail)
    return table


@app.command("post-hoc")
def post_hoc_command(
    claims: Annotated[Path, typer.Argument(help="A year's claims (.csv or .parquet) in the claim contract.")],
    out_path: Annotated[Path, typer.Option("--out", help="Payments per program, person and year (.csv/.parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file.")] = "beijing",
) -> None:
    """Post-hoc assistance (倾斜救助, 依申请救助) over each person-year's settlements."""
    try:
        loaded = load_policy(policy)
        if not loaded.post_hoc:
            raise PolicyError(loaded.id, "post_hoc", "the policy defines no post-hoc assistance")
        table = from_frame(io.read_text_table(claims))
        years = person_years(table, settle(table, compile_policy(loaded)).frame())
        paid = pd.concat([settle_program(p, loaded, years) for p in loaded.post_hoc], ignore_index=True)
    except (ClaimValidationError, PolicyError, io.TableFileError) as exc:
        raise _fail(str(exc)) from exc
    io.write_table(paid, out_path, ("base", "deductible_applied", "paid", "cap", "cap_left"))
    table_out = Table(title=f"Post-hoc assistance under {loaded.id}")
    for column in ("program", "year", "persons paid", "paid (yuan)"):
        table_out.add_column(column, justify="right")
    summary = paid[paid["paid"] > 0].groupby(["program", "year"], as_index=False)["paid"].agg(["count", "sum"])
    for program, year, count, total in zip(*(summary[c].tolist() for c in summary.columns), strict=True):
        table_out.add_row(str(program), str(year), f"{count:,}", f"{fen_to_decimal(int(total)):,}")
    out.print(table_out)
    console.print(f"wrote {out_path} ({len(paid):,} rows)")


@app.command("statement")
def statement_command(
    settlements: Annotated[Path, typer.Argument(help="Settlement rows (medrelief export settlements).")],
    out_path: Annotated[Path, typer.Option("--out", help="Totals (.csv or .parquet).")],
    html_path: Annotated[Path | None, typer.Option("--html", help="Also an HTML statement with a chart.")] = None,
    title: Annotated[str, typer.Option(help="Title of the HTML statement.")] = "Settlement statement",
) -> None:
    """Totals per fund, insurance type, visit type and hospital; reversals counted separately."""
    try:
        frame = io.read_text_table(settlements)
        for column in STATEMENT_MONEY:
            fen, bad, reasons = parse_signed_yuan(frame[column])
            if len(bad):
                raise io.TableFileError(f"{settlements}: row {bad[0] + 2}: {column}: {reasons[0]}")
            frame[column] = fen
    except (io.TableFileError, KeyError) as exc:
        raise _fail(f"{settlements}: {exc}") from exc
    result = statement_totals(frame)
    io.write_table(result, out_path, STATEMENT_MONEY)
    if html_path:
        html_path.write_text(render_html(result, monthly(frame), title), encoding="utf-8")
    grand = result[result["dimension"] == "all"]
    out.print(
        f"{int(grand['settlements'].iloc[0]):,} settlements, {int(grand['reversals'].iloc[0]):,} reversals; "
        f"funds paid {fen_to_decimal(int(grand['fund_pay_sumamt'].iloc[0])):,} yuan"
    )
    console.print("wrote " + ", ".join(str(p) for p in (out_path, html_path) if p))
