"""Year-end post-hoc assistance (倾斜救助, 依申请救助) over the service's stored settlements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api import posthoc
from api.db import INTEGRITY_ERRORS
from api.deps import CallerDep, PolicyDep, Year
from api.errors import Problem
from api.queue import write

router = APIRouter(prefix="/v1/post-hoc", tags=["insurers"])


@router.post("/{year}", status_code=201, summary="Run the policy's post-hoc programs for a year (once)")
async def run(year: Year, request: Request, caller: CallerDep, policy: PolicyDep) -> dict[str, Any]:
    caller.require("admin")
    try:
        result: dict[str, Any] = await write(
            request.app.state.database, lambda db: posthoc.run(db, caller.institution_id, year, policy)
        )
    except INTEGRITY_ERRORS as exc:  # a concurrent run of the same year posted first
        raise Problem(409, "post_hoc_already_run", f"post-hoc assistance for {year} was already run", "year") from exc
    return result
