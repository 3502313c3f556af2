"""Visits (就诊) in the books: the statements of :mod:`api.routes.nhsa_visits`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.books.driver import Driver, Read, Statement, Write, inserts
from api.books.queries import columns
from api.books.writing import now

_VISIT = Statement.of(
    "SELECT institution_id, mdtrt_id, person_id, kind, med_type, begntime, endtime, diagnosis, status, created_at "
    "FROM visit WHERE institution_id = :i AND mdtrt_id = :m"
)
_DETAILS = Statement.of(
    "UPDATE visit SET med_type = :med_type, diagnosis = :diagnosis, begntime = :begntime WHERE institution_id = :i "
    "AND mdtrt_id = :m"
)
_DISCHARGE = Statement.of(
    "UPDATE visit SET endtime = :endtime, diagnosis = :diagnosis, status = :status WHERE institution_id = :i "
    "AND mdtrt_id = :m"
)
_STATUS = Statement.of("UPDATE visit SET status = :status WHERE institution_id = :i AND mdtrt_id = :m")


def visit(db: Driver, *, institution_id: str, mdtrt_id: str) -> dict[str, Any] | None:
    """An institution's visit, or None."""
    return visit_of(db.rows(*visit_read(institution_id=institution_id, mdtrt_id=mdtrt_id)))


def visit_read(*, institution_id: str, mdtrt_id: str) -> Read:
    """The read of :func:`visit` (to run with others: :meth:`Driver.read_all`)."""
    return _VISIT, {"i": institution_id, "m": mdtrt_id}


def visit_of(rows: list[tuple[Any, ...]]) -> dict[str, Any] | None:
    """The rows of :func:`visit_read` as :func:`visit` gives them."""
    if not rows:
        return None
    found = dict(zip(columns("visit"), rows[0], strict=True))
    for name in ("begntime", "endtime"):  # SQLite returns ISO text
        if isinstance(found[name], str):
            found[name] = datetime.fromisoformat(found[name])
    return found


def registration_writes(*, institution_id: str, mdtrt_id: str, person_id: str, kind: str, med_type: str,
                        begntime: datetime | None, diagnosis: str) -> list[Write]:  # fmt: skip
    """A visit registered (2201 挂号, 2401 入院)."""
    values = {"institution_id": institution_id, "mdtrt_id": mdtrt_id, "person_id": person_id, "kind": kind,
              "med_type": med_type, "begntime": begntime, "endtime": None, "diagnosis": diagnosis, "status": "open",
              "created_at": now()}  # fmt: skip
    return inserts("visit", [values])


def details_write(*, institution_id: str, mdtrt_id: str, med_type: str, diagnosis: str,
                  begntime: datetime | None) -> Write:  # fmt: skip
    """2203 就诊信息上传: the visit type, main diagnosis and start as the hospital now states them."""
    return (_DETAILS, {"i": institution_id, "m": mdtrt_id, "med_type": med_type, "diagnosis": diagnosis,
                       "begntime": begntime})  # fmt: skip


def discharge_write(
    *, institution_id: str, mdtrt_id: str, endtime: datetime | None, diagnosis: str, status: str
) -> Write:
    """2402 出院 (``discharged``) or 2405 its cancellation (``open``, no end)."""
    return (_DISCHARGE, {"i": institution_id, "m": mdtrt_id, "endtime": endtime, "diagnosis": diagnosis,
                         "status": status})  # fmt: skip


def status_write(*, institution_id: str, mdtrt_id: str, status: str) -> Write:
    """2202 / 2404 cancellation (``cancelled``)."""
    return (_STATUS, {"i": institution_id, "m": mdtrt_id, "status": status})
