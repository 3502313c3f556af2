"""The books of the catalogue (医保目录) and of visits' fee details (2204 / 2301): one statement each,
on the caller's transaction, money in fen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from api.books.driver import Driver, Read, Statement, Write, inserts
from api.books.queries import columns
from api.books.reading import as_date
from api.books.writing import now

_CLEAR = Statement.of("DELETE FROM catalogueitem")
_COUNT = Statement.of("SELECT count(*), count(DISTINCT list_code) FROM catalogueitem")
_DETAILS = Statement.of(
    f"SELECT {', '.join(columns('feedetail'))} FROM feedetail WHERE institution_id = :i AND mdtrt_id = :m "  # noqa: S608
    "ORDER BY created_at, feedetl_sn"
)
_PERSONS_ACTIVE = Statement.of(
    "SELECT mdtrt_id, feedetl_sn, created_at FROM feedetail WHERE institution_id = :i AND person_id = :p "
    "AND status = 'active' ORDER BY created_at"
)
_CANCEL_ALL = Statement.of(
    "UPDATE feedetail SET status = 'cancelled' WHERE institution_id = :i AND mdtrt_id = :m AND status = 'active'"
)
_CANCEL_ONE = Statement.of(
    "UPDATE feedetail SET status = 'cancelled' WHERE institution_id = :i AND mdtrt_id = :m AND feedetl_sn = :s "
    "AND status = 'active'"
)
_CANCEL_BATCH = Statement.of(
    "UPDATE feedetail SET status = 'cancelled' WHERE institution_id = :i AND mdtrt_id = :m AND chrg_bchno = :b "
    "AND status = 'active'"
)
CATALOGUE_FIELDS = ("list_code", "name", "chrgitm_lv", "selfpay", "uplmt", "begndate", "enddate", "med_chrgitm_type")


def catalogue_writes(catalogue: pd.DataFrame) -> list[Write]:
    """The catalogue replaced by ``catalogue`` (:func:`settlement.catalogue.read_catalogue`'s frame)."""
    rows = [_catalogue_row({str(k): v for k, v in row.items()}) for row in catalogue.to_dict("records")]
    return [(_CLEAR, {}), *inserts("catalogueitem", rows)]


def _catalogue_row(row: dict[str, Any]) -> dict[str, Any]:
    end = row["enddate"]
    typed = {"begndate": row["begndate"].date(), "enddate": None if pd.isna(end) else end.date()}
    return {
        **{f: row[f] for f in CATALOGUE_FIELDS},
        **typed,
        "selfpay": int(row["selfpay"]),
        "uplmt": int(row["uplmt"]),
    }


def catalogue_size(db: Driver) -> tuple[int, int]:
    """How many versions and list codes the catalogue holds."""
    versions, codes = db.rows(_COUNT, {})[0]
    return int(versions), int(codes)


def catalogue_of(db: Driver, codes: list[str]) -> pd.DataFrame:
    """The catalogue's versions of ``codes``, as :func:`settlement.catalogue.read_catalogue` gives them."""
    names = {f"c{i}": code for i, code in enumerate(sorted(set(codes)))}
    if not names:
        return pd.DataFrame(columns=list(CATALOGUE_FIELDS))
    where = ", ".join(f":{n}" for n in names)
    statement = Statement.of(f"SELECT {', '.join(CATALOGUE_FIELDS)} FROM catalogueitem WHERE list_code IN ({where})")  # noqa: S608
    frame = pd.DataFrame(db.rows(statement, names), columns=list(CATALOGUE_FIELDS))
    for column in ("begndate", "enddate"):
        days = [None if pd.isna(v) else as_date(v) for v in frame[column]]
        frame[column] = pd.to_datetime(pd.Series(days, dtype=object)).astype("datetime64[s]")
    return frame.astype({"selfpay": "int64", "uplmt": "int64"})


def details(db: Driver, *, institution_id: str, mdtrt_id: str) -> list[dict[str, Any]]:
    """A visit's fee details (active and cancelled), in upload order."""
    return details_of(db.rows(*details_read(institution_id=institution_id, mdtrt_id=mdtrt_id)))


def details_read(*, institution_id: str, mdtrt_id: str) -> Read:
    """The read of :func:`details` (to run with others: :meth:`Driver.read_all`)."""
    return _DETAILS, {"i": institution_id, "m": mdtrt_id}


def details_of(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The rows of :func:`details_read` as :func:`details` gives them."""
    found = [dict(zip(columns("feedetail"), row, strict=True)) for row in rows]
    for row in found:
        if isinstance(row["fee_ocur_time"], str):
            row["fee_ocur_time"] = datetime.fromisoformat(row["fee_ocur_time"])
    return found


def uploaded(db: Driver, *, institution_id: str, person_id: str, serials: set[str]) -> list[dict[str, Any]]:
    """The still active rows of one upload of the person's (``serials``, its ``feedetl_sn``): of the
    latest upload (one visit, one moment) that holds them all, else every active row with those serials."""
    rows = db.rows(_PERSONS_ACTIVE, {"i": institution_id, "p": person_id})
    found = [{"mdtrt_id": m, "feedetl_sn": str(s), "created_at": str(c)} for m, s, c in rows if str(s) in serials]
    uploads: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in found:
        uploads.setdefault((row["mdtrt_id"], row["created_at"]), []).append(row)
    whole = [rows for rows in uploads.values() if {r["feedetl_sn"] for r in rows} == serials]
    return whole[-1] if whole else found


def detail_writes(rows: list[dict[str, Any]]) -> list[Write]:
    """Fee details, classified, stored active."""
    at = now()
    return inserts("feedetail", [{**row, "status": "active", "created_at": at} for row in rows])


def cancel_write(*, institution_id: str, mdtrt_id: str, feedetl_sn: str | None = None,
                 chrg_bchno: str | None = None) -> Write:  # fmt: skip
    """Cancel a visit's details: all, one (``feedetl_sn``) or a charge batch (``chrg_bchno``)."""
    params = {"i": institution_id, "m": mdtrt_id}
    if feedetl_sn:
        return (_CANCEL_ONE, {**params, "s": feedetl_sn})
    if chrg_bchno:
        return (_CANCEL_BATCH, {**params, "b": chrg_bchno})
    return (_CANCEL_ALL, params)
