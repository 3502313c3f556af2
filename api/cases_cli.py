"""``medrelief cases …``: cases from warning to decision on ``DATABASE_URL``'s books — the same desk
acts as ``/v1/cases`` (:mod:`api.cases`), for a medical-security or civil-affairs office working
from a terminal. Refusals are one line (``wrong_state: …``); money is shown in yuan."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from api.cli_books import books, day, policy
from settlement.terminal import fail, out

if TYPE_CHECKING:
    from api.case_schemas import CaseOut, PreviewOut

cases_app = typer.Typer(
    help="Cases from warning to decision: open, apply, approve (容缺), verify, decline, revoke, recover, clawback.",
    no_args_is_help=True,
)
Case = Annotated[str, typer.Argument(help="The case id (C…)")]
Note = Annotated[str, typer.Option(help="What the step is based on (kept with it)")]
Actor = Annotated[str, typer.Option(help="Who takes the step (kept in the audit log; default: the OS user)")]
P = ParamSpec("P")
T = TypeVar("T")
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what it would adjust and who would owe; keep nothing")]


def _who(actor: str) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _run(act: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``act`` with a problem as a one-line error."""
    from api.errors import Problem

    try:
        return act(*args, **kwargs)
    except Problem as exc:
        raise fail(f"{exc.code}: {exc.detail}") from exc


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True)


def _show(case: CaseOut) -> None:
    decision = f"  {case.category} from {case.effective_from}" if case.category else ""
    _say(f"{case.case_id}  {case.person_id} {case.name}  {case.year}  {case.state}{decision}"
         + ("  容缺 fast-track" if case.fast_track else ""))  # fmt: skip
    for step in case.steps:
        moved = ", ".join(f"{m.output} {m.amount:+.2f}" for m in step.moved)
        recovered = f"recovered {step.recovered.output} {step.recovered.amount:.2f}" if step.recovered else ""
        line = "  ".join(
            x for x in (f"{step.at:%Y-%m-%d %H:%M}", step.step, step.actor, moved, recovered, step.note) if x
        )
        _say(f"  {line}")
    for paid in case.post_hoc:
        _say(f"  post-hoc {paid.output}: paid {paid.amount:.2f}")
    for fund in case.clawback:
        _say(
            f"  clawback {fund.output}: due {fund.due:.2f}, borne by the fund {fund.borne_by_fund:.2f}, "
            f"recovered {fund.recovered:.2f}, netted {fund.netted:.2f}, outstanding {fund.outstanding:.2f}"
        )


def _show_preview(preview: PreviewOut) -> None:
    out.print("dry run — nothing kept", highlight=False)
    for b in preview.balances:
        _say(
            f"  {b.person_id} {b.year} {b.output}: owed by the person {b.owed_by_person:.2f}, owed to the "
            f"person {b.owed_to_person:.2f}, due ({b.mode}) {b.due:.2f}"
        )


def _shown(case_id: str) -> None:
    from api.case_view import case_out

    compiled = policy()
    with books(migrated=False) as db:
        _show(_run(case_out, db, case_id, compiled))


@cases_app.command("open")
def open_case(
    person: Annotated[str, typer.Argument(help="The person id")],
    year: Annotated[int, typer.Option(help="The year the case is about")],
    applied: Annotated[bool, typer.Option("--applied", help="Opened on the person's application (依申请)")] = False,
    note: Note = "",
    actor: Actor = "",
) -> None:
    """Open a case for a person-year (as warned, or as applied)."""
    from api import cases

    with books() as db:
        case_id = _run(cases.open_case, db, actor=_who(actor), person_id=person, year=year,
                       state="applied" if applied else "warned", note=note)  # fmt: skip
    _shown(case_id)


@cases_app.command("list")
def list_cases(year: Annotated[int, typer.Option(help="The year")]) -> None:
    """A year's cases: id, person, state, decision."""
    from api.books import cases as case_books

    with books(migrated=False) as db:
        rows = case_books.cases(db, year=year)
    for row in rows:
        decision = f"{row['category']} from {row['effective_from']}" if row["category"] else ""
        out.print("  ".join(x for x in (row["id"], row["person_id"], row["state"], decision) if x), highlight=False)


@cases_app.command("show")
def show(case: Case) -> None:
    """A case: its steps, the money each moved, its clawback."""
    _shown(case)


def _step(step: str, case: str, note: str, actor: str) -> None:
    from api import cases

    with books() as db:
        _run(cases.move, db, actor=_who(actor), case_id=case, step=step, note=note)
    _shown(case)


@cases_app.command("apply")
def apply(case: Case, note: Note = "", actor: Actor = "") -> None:
    """The person applied (申请)."""
    _step("apply", case, note, actor)


@cases_app.command("verify")
def verify(case: Case, note: Note = "", actor: Actor = "") -> None:
    """The checks came back clean (核对通过): the approval stands."""
    _step("verify", case, note, actor)


@cases_app.command("decline")
def decline(case: Case, note: Note = "", actor: Actor = "") -> None:
    """Decline the application: no money moves."""
    _step("decline", case, note, actor)


@cases_app.command("reopen")
def reopen(case: Case, note: Note = "", actor: Actor = "") -> None:
    """Reopen a declined or revoked case (as applied)."""
    _step("reopen", case, note, actor)


@cases_app.command("approve")
def approve(
    case: Case,
    category: Annotated[str, typer.Option(help="The relief category granted (e.g. dibao)")],
    start: Annotated[str, typer.Option("--from", help="Effective from (YYYY-MM-DD; may be in the past)")],
    end: Annotated[str | None, typer.Option("--to", help="Until (YYYY-MM-DD; default: open)")] = None,
    fast_track: Annotated[bool, typer.Option("--fast-track", help="容缺审批: before the checks come back")] = False,
    dry_run: DryRun = False,
    note: Note = "",
    actor: Actor = "",
) -> None:
    """Approve: grant the identity from its effective date (the year is re-settled)."""
    from api import cases
    from api.resettled import preview_out

    approval = cases.Approval(category, day("--from", start), day("--to", end), fast_track)  # type: ignore[arg-type]
    compiled = policy()
    with books() as db:
        runs = _run(cases.approve, db, actor=_who(actor), case_id=case, approval=approval, policy=compiled,
                    note=note, dry_run=dry_run)  # fmt: skip
    _show_preview(preview_out(runs, compiled)) if dry_run else _shown(case)


@cases_app.command("revoke")
def revoke(case: Case, dry_run: DryRun = False, note: Note = "", actor: Actor = "") -> None:
    """Revoke the approval (checks failed): the identity revoked, the year re-settled, what it paid owed back."""
    from api import cases
    from api.resettled import preview_out

    compiled = policy()
    with books() as db:
        runs = _run(cases.revoke, db, actor=_who(actor), case_id=case, policy=compiled, note=note, dry_run=dry_run)
    _show_preview(preview_out(runs, compiled)) if dry_run else _shown(case)


@cases_app.command("recover")
def recover(
    case: Case,
    fund: Annotated[str, typer.Option(help="The fund's payment column, e.g. maf_pay")],
    amount: Annotated[str, typer.Option(help="Yuan recovered, e.g. 1234.56")],
    note: Note = "",
    actor: Actor = "",
) -> None:
    """Record money recovered (追回到账) for a fund, at most what is outstanding."""
    from decimal import Decimal, InvalidOperation

    from api import cases
    from settlement.money import fen_of

    try:
        fen = fen_of(Decimal(amount))
    except (InvalidOperation, ValueError) as exc:
        raise fail(f"--amount: {amount!r} is not yuan with at most two decimals") from exc
    compiled = policy()
    with books() as db:
        _run(cases.recover, db, actor=_who(actor), case_id=case, output=fund, amount=fen, policy=compiled, note=note)
    _shown(case)


@cases_app.command("clawback")
def clawback(
    case: Case,
    out_path: Annotated[Path, typer.Option("--out", help="File to write: .html (to print) or .csv")],
) -> None:
    """Write the case's clawback statement (追回通知书)."""
    from api.books import queries
    from api.clawback import statement
    from api.clawback_statement import statement_csv, statement_html
    from api.desk import today

    if out_path.suffix not in (".html", ".csv"):
        raise fail(f"--out: {out_path} must end in .html or .csv")
    compiled = policy()
    with books(migrated=False) as db:
        found = _run(statement, db, case_id=case, policy=compiled)
        person = queries.person(db, person_id=found.case["person_id"]) or {}
    text = (
        statement_csv(found) if out_path.suffix == ".csv" else statement_html(found, person, compiled, today(compiled))
    )
    out_path.write_text(text, encoding="utf-8")
    out.print(f"wrote {out_path}", highlight=False, soft_wrap=True)
