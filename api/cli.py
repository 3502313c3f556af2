"""The whole ``medrelief`` command: the batch commands of :mod:`settlement.cli` plus the service's.

``medrelief serve`` migrates the database, makes sure a demo hospital and admin key exist
(printed once), and starts uvicorn. ``medrelief keys create|revoke|list`` manages API keys;
``medrelief institutions add|list|deactivate`` the registry of institutions;
``medrelief db upgrade|check`` migrates and checks ``DATABASE_URL``; ``medrelief export
settlements`` writes the books of a period. The service's modules are imported by the command
that needs them, so the batch commands start without FastAPI, SQLAlchemy or the FHIR models.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli_books import books, database, day, policy, shown
from settlement.cli import app
from settlement.terminal import fail, out

if TYPE_CHECKING:
    pass

keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is shown once).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (alembic) and book checks.", no_args_is_help=True)
export_app = typer.Typer(help="Export the books as files (CSV or Parquet).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")
institutions_app = typer.Typer(
    help="The registry of institutions (定点医药机构): hospital tier, region, active dates.", no_args_is_help=True
)
app.add_typer(institutions_app, name="institutions")
KINDS = ("hospital", "insurer", "actuary", "admin", "civil_affairs")  # api.auth.KINDS (not imported: startup time)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate DATABASE_URL to the newest schema."""
    url = database(migrated=True)
    out.print(f"database at {shown(url)} is up to date", highlight=False, soft_wrap=True)


@db_app.command("check")
def db_check() -> None:
    """Check the books: Σ settlements + adjustments == accumulators; every settlement complete."""
    from api.books import checks

    compiled = policy()
    with books(migrated=False) as db:
        found = checks.problems(db, compiled)
    for problem in found:
        out.print(f"[bold red]✗[/] {problem}", highlight=False, soft_wrap=True)
    if found:
        raise typer.Exit(1)
    out.print("books consistent: settlements + adjustments == accumulators", highlight=False)


@export_app.command("settlements")
def export_settlements(
    out_path: Annotated[Path, typer.Option("--out", help="File to write (.csv or .parquet).")],
    start: Annotated[str, typer.Option("--from", help="First settle_date (YYYY-MM-DD).")] = "1900-01-01",
    end: Annotated[str, typer.Option("--to", help="Last settle_date (YYYY-MM-DD).")] = "2999-12-31",
) -> None:
    """Settlements, reversals and adjustments of a period: for statements and reconciliation."""
    from datetime import date

    from api.books import export
    from settlement import io

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise fail(f"--from/--to: {exc}") from exc
    insutype = policy().policy.insutype
    with books(migrated=False) as db:
        frame = export.settlements(db, start=first, end=last, insutype=insutype)
    io.write_table(frame, out_path, export.money_columns(list(frame.columns)))
    out.print(f"wrote {out_path} ({len(frame):,} rows)", highlight=False)


@keys_app.command("create")
def keys_create(
    institution: Annotated[str, typer.Option(help="Institution code, e.g. H42010001")],
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
) -> None:
    """Create an API key for an institution (created if new) and print it once."""
    from api.auth import create_key

    with books() as db:
        try:
            key = create_key(db, institution, kind, name)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    out.print(key, highlight=False, soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix (the part after mr_)")]) -> None:
    """Revoke a key; requests with it are refused from now on (every worker within a second)."""
    from api.auth import revoke_key

    with books(migrated=False) as db:
        if not revoke_key(db, prefix):
            raise fail(f"no active key with prefix {prefix}")
    out.print(f"revoked {prefix}", highlight=False)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: prefix, institution, kind, created, revoked (never a secret)."""
    from api.books import keys

    with books(migrated=False) as db:
        rows = keys.keys(db)
    for row in rows:
        revoked = f"revoked {str(row['revoked_at'])[:19]}" if row["revoked_at"] else "active"
        fields = (row["prefix"], row["institution_id"], row["kind"], row["name"], str(row["created_at"])[:19], revoked)
        out.print("  ".join(str(f) for f in fields), highlight=False, soft_wrap=True)


def _institution_line(row: dict[str, Any]) -> str:
    active = f"{row['active_from'] or '…'} – {row['active_to'] or '…'}"
    tier = row["hospital_tier"] or "-"
    return "  ".join((row["id"], row["kind"], f"tier {tier}", row["admdvs"] or "-", active, row["name"]))


@institutions_app.command("add")
def institutions_add(
    code: Annotated[str, typer.Argument(help="Institution code (fixmedins_code), e.g. H32060200001")],
    tier: Annotated[str | None, typer.Option(help="Hospital tier: one of the policy's (hosp_lv)")] = None,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    kind: Annotated[str, typer.Option(help=f"One of {', '.join(KINDS)}")] = "hospital",
    admdvs: Annotated[str, typer.Option(help="医保区划, six digits")] = "",
    active_from: Annotated[str | None, typer.Option("--active-from", help="定点 from (YYYY-MM-DD)")] = None,
) -> None:
    """Register an institution (or replace its registration; its keys and books are kept)."""
    from api import institutions

    compiled, start = policy(), day("--active-from", active_from)
    with books() as db:
        try:
            row = institutions.register(db, compiled, code=code, name=name, kind=kind, tier=tier, admdvs=admdvs,
                                        active_from=start)  # fmt: skip
        except institutions.RegistryError as exc:
            option = {"hospital_tier": "--tier", "code": "CODE"}.get(exc.field, f"--{exc.field}")
            raise fail(f"{option}: {exc.reason}") from exc
    out.print(_institution_line(row), highlight=False, soft_wrap=True)


@institutions_app.command("list")
def institutions_list() -> None:
    """Every institution: code, kind, tier, region, active dates, name."""
    from api.books import keys

    with books(migrated=False) as db:
        rows = keys.institutions(db)
    for row in rows:
        out.print(_institution_line(row), highlight=False, soft_wrap=True)


@institutions_app.command("deactivate")
def institutions_deactivate(
    code: Annotated[str, typer.Argument(help="Institution code")],
    on: Annotated[str | None, typer.Option(help="Last day it is active (YYYY-MM-DD; default today)")] = None,
) -> None:
    """End an institution's 定点 status: its claims dated after ``--on`` are refused."""
    from datetime import date

    from api import institutions

    last = day("--on", on) or date.today()
    with books(migrated=False) as db:
        try:
            row = institutions.deactivate(db, code, last)
        except institutions.RegistryError as exc:
            raise fail(str(exc)) from exc
    out.print(_institution_line(row), highlight=False, soft_wrap=True)


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
    demo_keys: Annotated[
        bool, typer.Option("--demo-keys", help="On an empty database: create and print a demo hospital and admin key")
    ] = False,
) -> None:
    """Start the real-time service on DATABASE_URL (default: SQLite file medrelief.db)."""
    from api.auth import demo_keys as make_demo_keys
    from api.workers import serve as workers_serve

    compiled = policy()
    url = database(migrated=True)
    if demo_keys:
        try:
            made = make_demo_keys(url)
        except ValueError as exc:
            raise fail(str(exc)) from exc
        for kind, key in made.items():
            out.print(f"demo {kind} key: {key}", highlight=False, soft_wrap=True)
    serving = f"serving policy {compiled.id} on http://{host}:{port} (docs at /docs), database {shown(url)}"
    out.print(serving, highlight=False, soft_wrap=True)
    workers_serve(host, port, workers, loop.value)


@app.command("soak")
def soak(
    seed: Annotated[int, typer.Option(help="The first seed: a failing seed replays the same history")] = 1,
    steps: Annotated[int, typer.Option(min=1, help="Steps of each history")] = 200,
    backend: Annotated[str, typer.Option(help="sqlite or postgresql (a private throwaway cluster)")] = "sqlite",
    faults: Annotated[
        bool,
        typer.Option(
            "--faults",
            help="Inject faults: kill -9 of the server or a worker, a database restart, a full disk, "
            "dropped and slow clients",
        ),
    ] = False,
    seeds: Annotated[int, typer.Option(min=1, help="How many seeds, from --seed on")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes of the server")] = 2,
    shrink: Annotated[bool, typer.Option(help="Shrink a failing history to the shortest that fails")] = True,
) -> None:
    """Run seeded random histories against a real server and check every invariant after every
    step against an independent model; exit 0 only when every invariant held."""
    from api.soak.report import soak_seeds

    if backend not in ("sqlite", "postgresql"):
        raise fail(f"--backend: {backend!r}; expected sqlite or postgresql")
    held = soak_seeds(range(seed, seed + seeds), steps, backend, faults=faults, workers=workers, shrink=shrink)
    if not held:
        raise typer.Exit(1)


@app.command("demo")
def demo(
    claims: Annotated[Path | None, typer.Option(help="Claims file (default: the bundled sample)")] = None,
    persons: Annotated[int, typer.Option(help="How many persons' claims to post")] = 100,
    keep_serving: Annotated[bool, typer.Option(help="Keep the service running afterwards")] = False,
) -> None:
    """Start the service on SQLite, post sample claims over HTTP, print the results (and check them)."""
    from api.demo import run_demo

    run_demo(claims, persons, keep_serving)


def _register() -> None:
    from api.cases_cli import cases_app
    from api.catalogue_cli import catalogue_app

    app.add_typer(cases_app, name="cases")
    app.add_typer(catalogue_app, name="catalogue")


_register()
