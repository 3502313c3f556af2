"""Insurers' and funds' books over HTTP: statements of a period (like 3201/3202) and the second payout."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import export, second_payout
from api.deps import CallerDep, PolicyDep, SessionDep, WriteSessionDep, Year, writing
from api.errors import Problem
from settlement.statement import MONEY, monthly, render_html, totals

router = APIRouter(prefix="/v1", tags=["insurers"])


def _yuan(fen: Any) -> str:
    return f"{int(fen) / 100:.2f}"


@router.get(
    "/statements", response_class=Response, summary="Totals of a period per fund, insurance type, visit type, hospital"
)
def statement(
    session: SessionDep,
    caller: CallerDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    output: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
) -> Response:
    caller.require("read:all")
    if end < start:
        raise Problem(422, "invalid_period", "'to' is before 'from'", "to")
    frame = export.settlements(session, start, end)
    result = totals(frame)
    if output == "html":
        if not len(frame):
            raise Problem(404, "no_settlements", f"no settlements from {start} to {end}", "from")
        per_month = monthly(frame)
        return HTMLResponse(render_html(result, per_month, f"Statement {start} – {end}"))
    rows = [
        {c: (_yuan(v) if c in MONEY else v) for c, v in zip(result.columns, row, strict=True)}
        for row in zip(*(result[c].tolist() for c in result.columns), strict=True)
    ]
    return JSONResponse({"from": str(start), "to": str(end), "rows": rows})


class SecondPayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insured: Annotated[int, Field(ge=0, le=10**9)] | None = None
    """The insurer's count of insured persons (default: registered persons with a covered identity)."""


@router.post("/second-payout/{year}", status_code=201, summary="Post the year's second payout (二次赔付), once")
def post_second_payout(
    year: Year,
    session: WriteSessionDep,
    caller: CallerDep,
    policy: PolicyDep,
    body: Annotated[SecondPayoutIn | None, Body()] = None,
) -> dict[str, Any]:
    caller.require("admin")
    with writing(session):
        return second_payout.run(session, caller.institution_id, year, policy, body.insured if body else None)
