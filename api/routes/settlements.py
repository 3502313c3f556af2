"""Settlement routes: pre-settle (2206/2303), settle (2207/2304), reverse (2208/2305), read (5203), slip.

The native JSON protocol's translator onto the desk: a body becomes a
:class:`~api.desk.SettleCommand` (rendered back by :func:`api.native.render`), a reversal a
:class:`~api.years.ReverseCommand`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.routing import Route

from api import desk, native, years
from api.books import queries
from api.db import pooled_transaction
from api.deps import (
    CallerDep,
    IdempotencyKey,
    PolicyDep,
    ReaderDep,
    SetlId,
    body_of,
    caller_of,
    hand_read,
    idempotency_key_of,
)
from api.errors import Problem
from api.idempotency import Reply, claimed, request_hash
from api.queue import write
from api.resettled import preview_out
from api.schemas import NO_CONTROL, AdjustmentOut, ClaimIn, SettlementOut
from api.slip import render_slip
from settlement.money import yuan_of
from tiers.codes import PAYMENT_COLUMNS

router = APIRouter(prefix="/v1/settlements", tags=["settlements"])
CREATED: dict[int | str, dict[str, Any]] = {201: {"model": SettlementOut}}


def _reply(reply: Reply) -> Response:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(reply.body, status_code=reply.status, media_type="application/json", headers=headers)


def settle_command(request: Request, claim: ClaimIn, key: str | None) -> desk.SettleCommand:
    """A native settlement's command: the claim checked at the desk, its reply the native body."""
    caller = caller_of(request)
    facts = desk.check_claim(claim, request.app.state.policy, caller)
    digest = request_hash("settle", claim.model_dump_json())
    return desk.SettleCommand(caller, facts, native.render, key, digest)


@router.post(
    "/pre",
    responses={200: {"model": SettlementOut}},
    response_class=Response,
    summary="Pre-settle (试算): full result, nothing stored",
    openapi_extra=hand_read(ClaimIn, idempotency_key=False),
)
async def pre_settle(request: Request) -> Response:
    caller = caller_of(request)
    caller.require("settle")
    command = settle_command(request, await body_of(request, ClaimIn), None)
    with pooled_transaction(request.app.state.batch_database, read_only=True) as db:  # planned once (api.db)
        (done,) = desk.pre_settle_commands(db, [command], request.app.state.policy)
    if isinstance(done, Problem):
        raise done
    return Response(native.render(done), media_type="application/json")


@router.post(
    "",
    status_code=201,
    responses=CREATED,
    response_class=Response,
    summary="Settle (结算) one claim",
    openapi_extra=hand_read(ClaimIn),
)
async def post_settlement(request: Request) -> Response:
    caller, key = caller_of(request), idempotency_key_of(request)
    caller.require("settle")
    claim = await body_of(request, ClaimIn)
    with claimed(caller.institution_id, key):
        return _reply(await request.app.state.settlements.settle(lambda: settle_command(request, claim, key)))


HOT_ROUTES = [
    Route("/v1/settlements/pre", pre_settle, methods=["POST"]),
    Route("/v1/settlements", post_settlement, methods=["POST"]),
]
"""The hospital's pre-settlement and settlement served as plain Starlette routes in front of
FastAPI's router (the FastAPI routes above stay for the OpenAPI schema): each reads its own
request (FastAPI's per-request handling around it costs more: ``benchmarks/README.md``). Errors
go through the same application handlers."""


async def reverse_settlement(request: Request, command: years.ReverseCommand) -> Reply:
    """Any protocol's reversal: one unit of work on the write turn, the key held meanwhile."""
    policy = request.app.state.policy
    with claimed(command.caller.institution_id, command.key):
        return await write(request.app.state.database, lambda db: years.reverse(db, command, policy))


@router.post(
    "/{setl_id}/reversal", status_code=201, responses=CREATED, response_class=Response, summary="Reverse (冲正)"
)
async def reverse(
    setl_id: SetlId,
    request: Request,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
    dry_run: Annotated[bool, Query(description="Preview what it takes back and re-settles; nothing kept")] = False,
) -> Response:
    caller.require("settle")
    command = years.ReverseCommand(caller, setl_id, native.render, idempotency_key, request_hash("reverse", setl_id))
    if dry_run:
        return await _preview_reversal(request, command)
    return _reply(await reverse_settlement(request, command))


async def _preview_reversal(request: Request, command: years.ReverseCommand) -> Response:
    """A reversal's dry run: what it takes back of the claim per fund, and the year's re-settlement."""
    policy = request.app.state.policy
    values, runs = await write(request.app.state.database, lambda db: years.preview_reversal(db, command, policy))
    taken = [
        AdjustmentOut(run_id="", setl_id=command.setl_id, output=o, delta=yuan_of(int(values[o])), reason="reversal")
        for o in PAYMENT_COLUMNS
        if int(values[o])
    ]
    return Response(preview_out(runs, policy, taken).model_dump_json(), media_type="application/json")


def _readable(db: Any, caller: CallerDep, setl_id: str) -> dict[str, Any]:
    row = queries.settlement(db, setl_id=setl_id)
    if row is None or not caller.may_read(row["institution_id"]):
        raise Problem(404, "settlement_not_found", f"no settlement {setl_id}", "setl_id")
    return row


def stored(db: Any, caller: CallerDep, setl_id: str) -> SettlementOut:
    """A stored settlement the caller may read, with its lines and adjustments (404 otherwise)."""
    row = _readable(db, caller, setl_id)
    return native.settlement_out(row, queries.lines(db, setl_id=setl_id), queries.adjustments(db, setl_id=setl_id))


@router.get("/{setl_id}", response_model=SettlementOut, summary="A settlement with its lines and adjustments")
def read(setl_id: SetlId, db: ReaderDep, caller: CallerDep) -> SettlementOut:
    return stored(db, caller, setl_id)


@router.get("", response_model=SettlementOut, summary="The standing settlement of one of your claims, by claim id")
def by_claim(
    claim_id: Annotated[str, Query(min_length=1, max_length=64, pattern=NO_CONTROL)], db: ReaderDep, caller: CallerDep
) -> SettlementOut:
    setl_id = queries.standing_of_claim(db, institution_id=caller.institution_id, claim_id=claim_id)
    if setl_id is None:
        raise Problem(404, "settlement_not_found", f"no standing settlement of claim {claim_id}", "claim_id")
    return stored(db, caller, setl_id)


@router.get("/{setl_id}/slip", response_class=HTMLResponse, summary="Printable settlement slip (结算单)")
def slip(
    setl_id: SetlId,
    request: Request,
    db: ReaderDep,
    caller: CallerDep,
    policy: PolicyDep,
    paper: Annotated[Literal["A4", "A5"], Query(description="The paper it prints on")] = "A4",
) -> HTMLResponse:
    settlement = stored(db, caller, setl_id)
    person = queries.person(db, person_id=settlement.person_id)
    return HTMLResponse(render_slip(settlement, policy.policy, person, paper))
