"""The commands' terminal: results on stdout (``out``), progress and messages on stderr
(``console``), and one way to fail with a message."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

console = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` (as is: no markup, no hard wrapping) and return the exit to raise."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def fitted(table: Table, console_: Console | None = None) -> Table:
    """``table`` as it is when it fits the console's width, else turned on its side (a row per
    column, a column per row) when that fits: figures are never cut (``14,00…``) in a narrow
    terminal, a pipe or a log (80 columns). A table whose columns wrap their text is left as it is."""
    target = console_ or out
    if _natural_width(table, target) <= target.width or table.row_count == 0:
        return table
    columns = table.columns
    flipped = Table(title=table.title)
    flipped.add_column(str(columns[0].header), no_wrap=True)
    for label in columns[0].cells:
        flipped.add_column(str(label), justify="right", no_wrap=True)
    for column in columns[1:]:
        flipped.add_row(str(column.header), *(str(cell) for cell in column.cells))
    return flipped if _natural_width(flipped, target) <= target.width else table


def _natural_width(table: Table, console_: Console) -> int:
    """The width ``table`` takes when nothing is cut or wrapped."""
    return Measurement.get(console_, console_.options.update_width(10_000), table).maximum


def _usage_metavar(argument: typer.core.TyperArgument, ctx: typer.Context, *, usage: bool = False) -> str:
    """A required argument in a usage line as the shells' convention writes it (``CLAIMS``), not
    typer's ``{claims}``; optional ones keep their brackets."""
    text = _TYPER_METAVAR(argument, ctx, usage=usage)
    return text[1:-1].upper() if usage and text.startswith("{") and text.endswith("}") else text


_TYPER_METAVAR = typer.core.TyperArgument.make_metavar
typer.core.TyperArgument.make_metavar = _usage_metavar  # type: ignore[method-assign,assignment]
