"""The commands' terminal: results on stdout (``out``), progress and messages on stderr
(``console``), and one way to fail with a message."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` (as is: no markup, no hard wrapping) and return the exit to raise."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
