"""The whole ``medrelief`` command: the batch commands of :mod:`settlement.cli` plus the service's.

``medrelief serve`` migrates the database, makes sure a demo hospital and admin key exist
(printed once), and starts uvicorn. ``medrelief keys create|revoke`` manages API keys;
``medrelief db upgrade`` migrates ``DATABASE_URL``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import make_url
from sqlmodel import Session, select

from api import export, integrity
from api.auth import KINDS, create_key, revoke_key
from api.config import settings
from api.db import make_engine, migrate
from api.demo import run_demo
from api.models import Institution
from api.store import SETTLEMENT_MONEY
from api.workers import serve as workers_serve
from settlement import io
from settlement.cli import app
from tiers.loader import load_policy
from tiers.tables import compile_policy

console = Console()
keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is shown once).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (alembic).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


def _shown(url: str) -> str:
    """``url`` as printed: its password masked (what ``serve`` prints ends up in logs)."""
    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate DATABASE_URL to the newest schema."""
    migrate(settings().database_url)
    console.print(f"database at {_shown(settings().database_url)} is up to date", highlight=False, soft_wrap=True)


@db_app.command("check")
def db_check() -> None:
    """Check the books: Σ settlements + adjustments == accumulators; every settlement complete."""
    config = settings()
    with Session(make_engine(config.database_url)) as session:
        found = integrity.problems(session, compile_policy(load_policy(config.policy)))
    for problem in found:
        console.print(f"[bold red]✗[/] {problem}", highlight=False)
    if found:
        raise typer.Exit(1)
    console.print("books consistent: settlements + adjustments == accumulators")


export_app = typer.Typer(help="Export the books as files (CSV or Parquet).", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("settlements")
def export_settlements(
    out_path: Annotated[Path, typer.Option("--out", help="File to write (.csv or .parquet).")],
    start: Annotated[str, typer.Option("--from", help="First settle_date (YYYY-MM-DD).")] = "1900-01-01",
    end: Annotated[str, typer.Option("--to", help="Last settle_date (YYYY-MM-DD).")] = "2999-12-31",
) -> None:
    """Settlements and reversals of a period: for statements (medrelief statement) and reconciliation."""
    with Session(make_engine(settings().database_url)) as session:
        frame = export.settlements(session, date.fromisoformat(start), date.fromisoformat(end))
    io.write_table(frame, out_path, SETTLEMENT_MONEY)
    console.print(f"wrote {out_path} ({len(frame):,} rows)")


@keys_app.command("create")
def keys_create(
    institution: Annotated[str, typer.Option(help="Institution code, e.g. H42010001")],
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
) -> None:
    """Create an API key for an institution (created if new) and print it once."""
    migrate(settings().database_url)
    with Session(make_engine(settings().database_url)) as session:
        try:
            key = create_key(session, institution, kind, name)
        except ValueError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from exc
    console.print(key, highlight=False, soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix (the part after mr_)")]) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    with Session(make_engine(settings().database_url)) as session:
        if not revoke_key(session, prefix):
            console.print(f"[bold red]error:[/] no active key with prefix {prefix}")
            raise typer.Exit(2)
    console.print(f"revoked {prefix}")


def _demo_keys(url: str) -> dict[str, str]:
    with Session(make_engine(url)) as session:
        known = {i.id for i in session.exec(select(Institution))}
        return {
            kind: create_key(session, code, kind, name)
            for code, kind, name in (("DEMO-HOSPITAL", "hospital", "示范医院"), ("DEMO-ADMIN", "admin", "示范医保局"))
            if code not in known or kind == "hospital"
        }


class Loop(StrEnum):
    auto = "auto"
    asyncio = "asyncio"


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    loop: Annotated[Loop, typer.Option(help="Event loop: auto (uvloop: fastest) or asyncio (fairer overloaded)")] = (
        Loop.auto
    ),
) -> None:
    """Start the real-time service on DATABASE_URL (default: SQLite file medrelief.db)."""
    url = settings().database_url
    migrate(url)
    for kind, key in _demo_keys(url).items():
        console.print(f"demo {kind} key: {key}", highlight=False, soft_wrap=True)
    serving = f"serving policy {settings().policy} on http://{host}:{port} (docs at /docs), database {_shown(url)}"
    console.print(serving, highlight=False, soft_wrap=True)
    workers_serve(host, port, workers, loop.value)


@app.command("demo")
def demo(
    claims: Annotated[Path | None, typer.Option(help="Claims file (default: the bundled sample)")] = None,
    persons: Annotated[int, typer.Option(help="How many persons' claims to post")] = 100,
    keep_serving: Annotated[bool, typer.Option(help="Keep the service running afterwards")] = False,
) -> None:
    """Start the service on SQLite, post sample claims over HTTP, print the results (and check them)."""
    run_demo(claims, persons, keep_serving)
