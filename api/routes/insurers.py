"""Insurers' and funds' books over HTTP: statements of a period (like 3201/3202) and the second payout."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import second_payout
from api.books import export
from api.db import INTEGRITY_ERRORS
from api.deps import CallerDep, PolicyDep, ReaderDep, Year
from api.errors import Problem
from api.queue import write
from settlement.money import yuan_text
from settlement.statement import by_kind, money, monthly, named, totals
from settlement.statement_page import Heading, render_statement
from tiers.vocabulary import Names

router = APIRouter(prefix="/v1", tags=["insurers"])


@router.get(
    "/statements", response_class=Response, summary="Totals of a period per fund, insurance type, visit type, hospital"
)
def statement(
    db: ReaderDep,
    caller: CallerDep,
    policy: PolicyDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    output: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
    issuer: Annotated[
        str | None, Query(max_length=100, description="Who issues it (default: the policy's region)")
    ] = None,
) -> Response:
    caller.require("read:all")
    if end < start:
        raise Problem(422, "invalid_period", "'to' is before 'from'", "to")
    frame = export.settlements(db, start=start, end=end, insutype=policy.policy.insutype)
    result = named(totals(frame), Names(policy.policy))
    if output == "html":
        if not len(frame):
            raise Problem(404, "no_settlements", f"no settlements from {start} to {end}", "from")
        heading = Heading("结算对账单", issuer or policy.policy.region, str(start), str(end), policy.policy.name)
        return HTMLResponse(render_statement(result, by_kind(frame), monthly(frame), heading))
    shown = money(result)
    rows = [
        {c: (_yuan(v) if c in shown else v) for c, v in zip(result.columns, row, strict=True)}
        for row in zip(*(result[c].tolist() for c in result.columns), strict=True)
    ]
    return JSONResponse({"from": str(start), "to": str(end), "rows": rows})


def _yuan(fen: Any) -> str | None:
    """An amount of the statement as yuan text; None where a row says nothing of it (a fund's row)."""
    return None if pd.isna(fen) else yuan_text(int(fen))


class SecondPayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insured: Annotated[int, Field(ge=1, le=10**9)] | None = None
    """The insurer's count of insured persons (default: registered persons with a covered identity)."""


@router.post("/second-payout/{year}", status_code=201, summary="Post the year's second payout (二次赔付), once")
async def post_second_payout(
    year: Year,
    request: Request,
    caller: CallerDep,
    policy: PolicyDep,
    body: Annotated[SecondPayoutIn | None, Body()] = None,
) -> dict[str, Any]:
    caller.require("admin")
    insured = body.insured if body else None
    try:
        result: dict[str, Any] = await write(
            request.app.state.database, lambda db: second_payout.run(db, caller.institution_id, year, policy, insured)
        )
    except INTEGRITY_ERRORS as exc:  # a concurrent run of the same year posted first
        raise Problem(
            409, "second_payout_already_run", f"the second payout for {year} was already posted", "year"
        ) from exc
    return result
