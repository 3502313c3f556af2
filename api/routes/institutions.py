"""The registry of institutions over HTTP (admin): list, register or replace, deactivate."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api import institutions
from api.books import keys
from api.books.driver import Driver
from api.deps import CallerDep, PolicyDep, ReaderDep, body_of, hand_read
from api.errors import Problem
from api.queue import write
from api.schemas import NO_CONTROL

router = APIRouter(prefix="/v1/institutions", tags=["institutions"])
Code = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_CONTROL)]


class InstitutionIn(BaseModel):
    """An institution's registration (replacing any earlier one; its keys and books are kept)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] = ""
    kind: Literal["hospital", "insurer", "actuary", "admin", "civil_affairs"] = "hospital"
    hospital_tier: Annotated[str, Field(max_length=8)] | None = None
    """One of the policy's hospital tiers (what the platform calls ``hosp_lv``)."""
    admdvs: Annotated[str, Field(pattern=r"^([0-9]{6})?$")] = ""
    active_from: date | None = None


class DeactivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date
    """The last day the institution is active."""


def _refused(exc: institutions.RegistryError) -> Problem:
    return Problem(422, "invalid_institution", exc.reason, exc.field)


@router.get("", summary="Every institution: code, kind, hospital tier, region, active dates")
def list_institutions(db: ReaderDep, caller: CallerDep) -> list[dict[str, Any]]:
    if not ({"admin", "read:all"} & caller.scopes):
        raise Problem(403, "forbidden", "this key may not read the registry of institutions")
    return keys.institutions(db)


@router.put(
    "/{code}",
    summary="Register an institution or replace its registration",
    openapi_extra=hand_read(InstitutionIn, caller_headers=False),
)
async def put_institution(request: Request, code: Code, caller: CallerDep, policy: PolicyDep) -> dict[str, Any]:
    caller.require("admin")
    body = await body_of(request, InstitutionIn)

    def work(db: Driver) -> dict[str, Any]:
        return institutions.register(db, policy, code=code, name=body.name, kind=body.kind, tier=body.hospital_tier,
                                     admdvs=body.admdvs, active_from=body.active_from)  # fmt: skip

    try:
        result: dict[str, Any] = await write(request.app.state.database, work)
    except institutions.RegistryError as exc:
        raise _refused(exc) from exc
    return result


@router.post(
    "/{code}/deactivate",
    summary="End an institution's 定点 status after a day",
    openapi_extra=hand_read(DeactivateIn, caller_headers=False),
)
async def deactivate(request: Request, code: Code, caller: CallerDep) -> dict[str, Any]:
    caller.require("admin")
    body = await body_of(request, DeactivateIn)
    try:
        result: dict[str, Any] = await write(
            request.app.state.database, lambda db: institutions.deactivate(db, code, body.on)
        )
    except institutions.RegistryError as exc:
        raise Problem(404, "institution_not_found", exc.reason, "code") from exc
    return result
