"""Policies: the bundled ones and their versions; the parameters in force on a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import CallerDep
from api.errors import Problem
from tiers.loader import PolicyError, bundled_names, load_policy
from tiers.resolve import version_dates
from tiers.view import policy_rows

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("", summary="Bundled policies and their versions")
def list_policies(caller: CallerDep) -> list[dict[str, Any]]:
    caller.require("policies")
    out = []
    for name in bundled_names():
        policy = load_policy(name)
        out.append(
            {
                "id": policy.id,
                "name": policy.name,
                "region": policy.region,
                "versions": [str(d) for d in version_dates(policy)],
            }
        )
    return out


@router.get("/{name}", summary="The parameters in force on a date")
def show(
    name: Annotated[str, Path(max_length=64)], caller: CallerDep, on: Annotated[date, Query(alias="date")]
) -> dict[str, Any]:
    caller.require("policies")
    if name not in bundled_names():
        raise Problem(404, "policy_not_found", f"no bundled policy {name!r}", "name")
    try:
        rows = policy_rows(load_policy(name), on)
    except (PolicyError, LookupError, ValueError) as exc:
        raise Problem(422, "policy_not_in_force", str(exc), "date") from exc
    return {"id": name, "date": str(on), "parameters": rows}
