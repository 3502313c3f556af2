"""Policies: the bundled ones and their versions; the parameters in force on a date."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import CallerDep
from api.errors import Problem
from api.schemas import NO_CONTROL
from tiers.loader import PolicyError, bundled_names, load_policy
from tiers.resolve import version_dates
from tiers.schema import Policy
from tiers.view import policy_rows

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@lru_cache(maxsize=32)
def _bundled(name: str) -> Policy:
    """Bundled policies are files shipped with the package: loaded and validated once per process."""
    return load_policy(name)


@router.get("", summary="Bundled policies and their versions")
def list_policies(caller: CallerDep) -> list[dict[str, Any]]:
    caller.require("policies")
    policies = [_bundled(name) for name in bundled_names()]
    return [
        {"id": p.id, "name": p.name, "region": p.region, "versions": [str(d) for d in version_dates(p)]}
        for p in policies
    ]


@router.get("/{name}", summary="The parameters in force on a date")
def show(
    name: Annotated[str, Path(max_length=64, pattern=NO_CONTROL)],
    caller: CallerDep,
    on: Annotated[date, Query(alias="date")],
) -> dict[str, Any]:
    caller.require("policies")
    if name not in bundled_names():
        raise Problem(404, "policy_not_found", f"no bundled policy {name!r}", "name")
    try:
        rows = policy_rows(_bundled(name), on)
    except (PolicyError, LookupError, ValueError) as exc:
        raise Problem(422, "policy_not_in_force", str(exc), "date") from exc
    return {"id": name, "date": str(on), "parameters": rows}
