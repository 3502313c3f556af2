"""Year-end post-hoc assistance (倾斜救助, 依申请救助) over the service's stored settlements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import posthoc
from api.deps import CallerDep, PolicyDep, WriteSessionDep, Year, writing

router = APIRouter(prefix="/v1/post-hoc", tags=["insurers"])


@router.post("/{year}", status_code=201, summary="Run the policy's post-hoc programs for a year (once)")
def run(year: Year, session: WriteSessionDep, caller: CallerDep, policy: PolicyDep) -> dict[str, Any]:
    caller.require("admin")
    with writing(session):
        return posthoc.run(session, caller.institution_id, year, policy)
