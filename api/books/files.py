"""The books of files exchanged on the national interface (9101 uploads, 3202 results for 9102)."""

from __future__ import annotations

from typing import Any

from api.books.driver import Driver, Statement, Write, inserts
from api.books.queries import columns
from api.books.writing import now

_FILE = Statement.of(f"SELECT {', '.join(columns('nhsafile'))} FROM nhsafile WHERE file_qury_no = :f")  # noqa: S608


def file(db: Driver, *, file_qury_no: str) -> dict[str, Any] | None:
    rows = db.rows(_FILE, {"f": file_qury_no})
    return dict(zip(columns("nhsafile"), rows[0], strict=True)) if rows else None


def file_writes(*, file_qury_no: str, institution_id: str, filename: str, body: bytes) -> list[Write]:
    row = {"file_qury_no": file_qury_no, "institution_id": institution_id, "filename": filename, "body": body,
           "created_at": now()}  # fmt: skip
    return inserts("nhsafile", [row])
