"""Cases from warning to decision (``/v1/cases``), their clawback statements, and the year's
clawback totals per fund (``/v1/clawbacks``) — the desk acts of :mod:`api.cases`."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from api import cases
from api.auth import Caller
from api.books import cases as books
from api.books import queries
from api.case_schemas import (
    ApprovalIn,
    CaseIn,
    CaseOut,
    FundClawbackOut,
    PreviewOut,
    RecoveryIn,
    StepIn,
)
from api.case_view import case_out
from api.clawback import FUND_COLUMNS, statement
from api.clawback_statement import statement_csv, statement_html
from api.deps import CallerDep, PolicyDep, ReaderDep, body_of, hand_read
from api.desk import today
from api.errors import Problem
from api.queue import write
from api.resettled import preview_out
from api.schemas import NO_CONTROL
from settlement.money import fen_of, yuan_of
from tiers.tables import CompiledPolicy

router = APIRouter(prefix="/v1/cases", tags=["cases"])
CaseId = Annotated[str, Path(min_length=1, max_length=40, pattern=NO_CONTROL)]
DryRun = Annotated[bool, Query(description="Preview what the step would adjust and who would owe; nothing kept")]


def _reads_cases(caller: Caller) -> None:
    if not ({"cases", "read:all"} & caller.scopes):
        raise Problem(403, "forbidden", "this key may not read cases")


@router.post("", status_code=201, response_model=CaseOut, summary="Open a case for a person-year (warned, or applied)",
             openapi_extra=hand_read(CaseIn, caller_headers=False))  # fmt: skip
async def open_case(request: Request, caller: CallerDep, policy: PolicyDep) -> CaseOut:
    caller.require("cases")
    body = await body_of(request, CaseIn)
    database = request.app.state.database
    case_id = await write(database, lambda db: cases.open_case(db, actor=caller.institution_id,
                          person_id=body.person_id, year=body.year, state=body.state, note=body.note))  # fmt: skip
    return await write(database, lambda db: case_out(db, case_id, policy))


@router.get("", response_model=list[CaseOut], summary="A year's cases")
def list_cases(
    db: ReaderDep, caller: CallerDep, policy: PolicyDep, year: Annotated[int, Query(ge=1900, le=2200)]
) -> list[CaseOut]:
    _reads_cases(caller)
    return [case_out(db, c["id"], policy) for c in books.cases(db, year=year)]


@router.get("/{case_id}", response_model=CaseOut, summary="A case: its steps, the money each moved, its clawback")
def read_case(case_id: CaseId, db: ReaderDep, caller: CallerDep, policy: PolicyDep) -> CaseOut:
    _reads_cases(caller)
    return case_out(db, case_id, policy)


async def _acted(request: Request, case_id: str, runs: Any, dry_run: bool, policy: CompiledPolicy) -> Any:
    database = request.app.state.database
    done = await write(database, runs)
    if dry_run:
        return preview_out(done, policy)
    return await write(database, lambda db: case_out(db, case_id, policy))


@router.post("/{case_id}/approval", response_model=CaseOut | PreviewOut,
             summary="Approve: grant the identity from its effective date (re-settles the year)",
             openapi_extra=hand_read(ApprovalIn, caller_headers=False))  # fmt: skip
async def approve(
    case_id: CaseId, request: Request, caller: CallerDep, policy: PolicyDep, dry_run: DryRun = False
) -> CaseOut | PreviewOut:
    caller.require("cases")
    body = await body_of(request, ApprovalIn)
    approval = cases.Approval(body.category, body.effective_from, body.valid_to, body.fast_track)
    act = lambda db: cases.approve(db, actor=caller.institution_id, case_id=case_id, approval=approval,  # noqa: E731
                                   policy=policy, note=body.note, dry_run=dry_run)  # fmt: skip
    return await _acted(request, case_id, act, dry_run, policy)  # type: ignore[no-any-return]


@router.post("/{case_id}/revocation", response_model=CaseOut | PreviewOut,
             summary="Revoke the approval: the identity revoked, the year re-settled, what it paid owed back",
             openapi_extra=hand_read(StepIn, caller_headers=False))  # fmt: skip
async def revoke(
    case_id: CaseId, request: Request, caller: CallerDep, policy: PolicyDep, dry_run: DryRun = False
) -> CaseOut | PreviewOut:
    caller.require("cases")
    body = await body_of(request, StepIn)
    act = lambda db: cases.revoke(db, actor=caller.institution_id, case_id=case_id, policy=policy,  # noqa: E731
                                  note=body.note, dry_run=dry_run)  # fmt: skip
    return await _acted(request, case_id, act, dry_run, policy)  # type: ignore[no-any-return]


@router.post("/{case_id}/recoveries", response_model=CaseOut, summary="Record money recovered (追回到账) for a fund",
             openapi_extra=hand_read(RecoveryIn, caller_headers=False))  # fmt: skip
async def recover(case_id: CaseId, request: Request, caller: CallerDep, policy: PolicyDep) -> CaseOut:
    caller.require("cases")
    body = await body_of(request, RecoveryIn)
    database = request.app.state.database
    await write(database, lambda db: cases.recover(db, actor=caller.institution_id, case_id=case_id,
                output=body.output, amount=fen_of(body.amount), policy=policy, note=body.note))  # fmt: skip
    return await write(database, lambda db: case_out(db, case_id, policy))


@router.get("/{case_id}/clawback", summary="The case's clawback statement (追回通知): HTML to print, CSV or JSON")
def clawback(
    case_id: CaseId,
    db: ReaderDep,
    caller: CallerDep,
    policy: PolicyDep,
    output: Annotated[Literal["html", "csv", "json"], Query(alias="format")] = "html",
) -> Response:
    _reads_cases(caller)
    found = statement(db, case_id=case_id, policy=policy)
    person = queries.person(db, person_id=found.case["person_id"]) or {}
    if output == "csv":
        return Response(statement_csv(found), media_type="text/csv; charset=utf-8")
    if output == "json":
        return Response(case_out(db, case_id, policy).model_dump_json(), media_type="application/json")
    return HTMLResponse(statement_html(found, person, policy, today(policy)))


@router.post("/{case_id}/{step}", response_model=CaseOut, summary="A step that moves no money",
             openapi_extra=hand_read(StepIn, caller_headers=False))  # fmt: skip
async def step(
    case_id: CaseId,
    step: Literal["apply", "verify", "decline", "reopen"],
    request: Request,
    caller: CallerDep,
    policy: PolicyDep,
) -> CaseOut:
    caller.require("cases")
    body = await body_of(request, StepIn)
    database = request.app.state.database
    await write(database, lambda db: cases.move(db, actor=caller.institution_id, case_id=case_id, step=step,
                                                note=body.note))  # fmt: skip
    return await write(database, lambda db: case_out(db, case_id, policy))


totals_router = APIRouter(prefix="/v1/clawbacks", tags=["cases"])


@totals_router.get("", summary="A year's clawback totals per fund (for the insurer and the assistance fund)")
def totals(
    db: ReaderDep, caller: CallerDep, policy: PolicyDep, year: Annotated[int, Query(ge=1900, le=2200)]
) -> list[FundClawbackOut]:
    _reads_cases(caller)
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FUND_COLUMNS[1:], 0))
    for case in books.cases(db, year=year):
        for row in statement(db, case_id=case["id"], policy=policy).funds.to_dict("records"):
            for column in FUND_COLUMNS[1:]:
                sums[row["output"]][column] += int(row[column])
    return [FundClawbackOut(output=o, **{c: yuan_of(v) for c, v in s.items()}) for o, s in sorted(sums.items())]
