"""``GET /v1/warnings``: early warning (预警监测) from the service's books, for insurers, admins and
civil-affairs offices — the same function as ``medrelief monitor`` (:mod:`settlement.warnings`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from api.auth import mask_id_number
from api.books import export, queries
from api.books.driver import Driver
from api.deps import CallerDep, PolicyDep, ReaderDep
from api.errors import Problem
from settlement.money import fen_to_yuan_text
from settlement.warnings import WARNING_COLUMNS, WarningError, book_rows, warnings

router = APIRouter(prefix="/v1/warnings", tags=["warnings"])
EXPORT_COLUMNS = (*WARNING_COLUMNS, "name", "id_number")
"""The civil-affairs export's layout (stable): a warning's columns, then the person's name and ID
number (masked unless the key may see ID numbers); money in yuan."""
MONEY = ("burden", "threshold")


def _persons(db: Driver, person_ids: list[str], full: bool) -> tuple[list[str], list[str]]:
    """Each person's registered name and ID number (masked unless ``full``)."""
    names, numbers = [], []
    for person_id in person_ids:  # the warned persons of a year: a few hundred, not the claims
        person = queries.person(db, person_id=person_id) or {}
        number = str(person.get("id_number") or "")
        names.append(str(person.get("name") or ""))
        numbers.append(number if full else mask_id_number(number))
    return names, numbers


@router.get("", summary="Person-years whose burden after every layer crossed the policy's line (JSON or CSV)")
def list_warnings(
    db: ReaderDep,
    caller: CallerDep,
    policy: PolicyDep,
    year: Annotated[int, Query(ge=1900, le=2200)],
    everyone: Annotated[bool, Query(alias="all", description="Every watched person-year, warned or not")] = False,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    caller.require("warnings")
    rows = export.settlements(db, start=date(year, 1, 1), end=date(year, 12, 31), insutype=policy.policy.insutype)
    try:
        found = warnings(book_rows(rows), policy.policy, everyone=everyone) if len(rows) else _none()
    except WarningError as exc:
        raise Problem(404, "no_early_warning", str(exc), "year") from exc
    found = found[found["year"] == year]
    names, numbers = _persons(db, found["person_id"].tolist(), "id_numbers" in caller.scopes)
    shown = found.assign(name=names, id_number=numbers)
    for column in MONEY:
        shown[column] = fen_to_yuan_text(shown[column].to_numpy("int64"))
    shown = shown[list(EXPORT_COLUMNS)]
    if output == "csv":
        return Response(export.csv_text(shown), media_type="text/csv; charset=utf-8")
    return JSONResponse({"year": year, "policy": policy.id, "warnings": _records(shown)})


def _none() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in (*MONEY, "year", "warned", "claims") else "object")
                         for c in WARNING_COLUMNS})  # fmt: skip


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = list(frame.columns)
    return [dict(zip(columns, row, strict=True)) for row in frame.astype(object).itertuples(index=False)]
