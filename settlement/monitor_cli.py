"""``medrelief monitor``: early warning (预警监测) from a claims file — who crossed the policy's line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from settlement.cli import _claims, _load, app
from settlement.terminal import console, fail, fitted, out

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

MONEY = ("burden", "threshold")
"""The money columns of a warnings file (yuan), with each ``if_<category>``."""


@app.command("monitor")
def monitor_command(
    claims: Annotated[Path, typer.Argument(help="Claims (.csv or .parquet) in the claim contract.")],
    out_path: Annotated[Path, typer.Option("--out", help="Warnings, one row per person-year (.csv or .parquet).")],
    policy: Annotated[str, typer.Option(help="Bundled policy name or a policy YAML file (with early_warning).")] = (
        "demo"
    ),
    year: Annotated[int | None, typer.Option(help="Only this year (default: every year of the file).")] = None,
    identities: Annotated[
        Path | None,
        typer.Option(help="Identity periods (person_id, category, valid_from, valid_to) instead of a category column."),
    ] = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="Every watched person-year, warned or not (a 'warned' column says).")
    ] = False,
) -> None:
    """Person-years whose burden after every layer reached their group's line, the day and the claim
    that crossed it, and what each grantable category would have left them to pay."""
    from settlement import io
    from settlement.claims import ClaimTable, ClaimValidationError
    from settlement.engine import settle
    from settlement.identities import IdentityValidationError
    from settlement.warnings import WarningError, claim_rows, if_granted, warnings
    from tiers.loader import PolicyError
    from tiers.tables import compile_policy

    try:
        compiled = compile_policy(_load(policy))
        table = _claims(claims, identities, compiled)
        assert isinstance(table, ClaimTable)
        with console.status(f"settling {len(table):,} claims …"):
            result = settle(table, compiled)
        found = warnings(claim_rows(result), compiled.policy, everyone=everyone)
        found = found[found["year"] == year] if year is not None else found
        found = if_granted(result, found)
        money = [*MONEY, *(c for c in found.columns if c.startswith("if_"))]
        io.write_table(found, out_path, money)
    except (ClaimValidationError, IdentityValidationError, PolicyError, WarningError, io.TableFileError) as exc:
        raise fail(str(exc)) from exc
    out.print(fitted(_counts(found, everyone)))
    console.print(f"wrote {out_path} ({len(found):,} person-years)")


def _counts(found: pd.DataFrame, everyone: bool) -> Table:
    """Warned person-years per year and group (and, with ``--all``, how many were watched)."""
    from rich.table import Table

    table = Table(title="Early warning (person-years)")
    columns = ("year", "group", "warned", *(("watched",) if everyone else ()))
    for column in columns:
        table.add_column(column, justify="left" if column == "group" else "right", no_wrap=True)
    counts = found.groupby(["year", "group"], sort=True)["warned"].agg(["sum", "size"]).reset_index()
    for y, group, warned, watched in zip(*(counts[c].tolist() for c in counts.columns), strict=True):
        table.add_row(str(y), str(group), f"{int(warned):,}", *((f"{int(watched):,}",) if everyone else ()))
    return table
