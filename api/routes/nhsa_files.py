"""Files on the national interface and the row-level 3202: 9101 文件上传, 9102 文件下载, and 3202 对明细账
comparing the hospital's own detail rows with the service's books, row by row.

The hospital's rows come as the specification has it — a 9101 upload (``fsUploadIn``: ``in`` the
file's bytes as base64 (fastjson and Newtonsoft write a byte array so) or a list of byte values,
``filename``) whose ``file_qury_no`` the 3202 names; the file a zip of a tab-separated text, or the
text itself: ``setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay,
refd_setl_flag`` — or inline, as fengzaiqishi11/hsa-his sends them (``InsureUnifiedPayReversalTradeBOImpl
.updateUP_3202``: ``input.fsUploadIn`` a list of row objects beside ``input.data``). Each row is
matched by ``setl_id`` with the institution's settlement or reversal of the period: ``stmt_rslt``
0 平, 1 amounts differ, 2 the hospital's row is not in the books, 3 a settlement of the books the
hospital did not send. The result (a zip of the same tab-separated layout as the platform's, with
``stmt_rslt`` and ``memo``) is kept and downloaded with 9102, as YbRefund does (``CSBHelper.cs``:
``application/octet-stream``).
"""

from __future__ import annotations

import base64
import binascii
import io
import uuid
import zipfile
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api import nhsa
from api.books import files
from api.books.driver import Driver
from api.nhsa import InputError, parse
from api.queue import write
from settlement.money import fen_of, fen_to_yuan_text

if TYPE_CHECKING:
    from api.routes.nhsa import Call

ROW_FIELDS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")
RESULT_FIELDS = ("psn_no", "mdtrt_id", "setl_id", "msgid", "stmt_rslt", "refd_setl_flag", "memo", "medfee_sumamt",
                 "fund_pay_sumamt", "acct_pay")  # fmt: skip
"""The hospital's detail rows, and the result rows (domain.md §4.6), in the interface's order."""


class Upload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    in_: Annotated[str | list[int], Field(alias="in")]
    filename: Annotated[str, Field(min_length=1, max_length=128)]


class Download(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_qury_no: Annotated[str, Field(min_length=1, max_length=40)]


def _bytes(given: str | list[int]) -> bytes:
    if isinstance(given, list):
        if not all(0 <= b <= 255 for b in given):
            raise InputError("input.fsUploadIn.in", "byte values are 0–255")
        return bytes(given)
    try:
        return base64.b64decode(given, validate=True)
    except binascii.Error as exc:
        raise InputError("input.fsUploadIn.in", "the file's bytes as base64") from exc


async def upload(call: Call) -> bytes:
    """9101: keep a file of the hospital's; its ``file_qury_no`` for 3202."""
    call.caller.require("settle")
    given: Upload = parse(Upload, call.envelope.input.get("fsuploadin"), "input.fsUploadIn")
    body, number = _bytes(given.in_), f"F{uuid.uuid4().hex[:24].upper()}"
    institution = call.caller.institution_id
    await write(call.request.app.state.database, lambda db: db.commit(files.file_writes(
        file_qury_no=number, institution_id=institution, filename=given.filename, body=body)))  # fmt: skip
    return nhsa.stored_reply({"file_qury_no": number, "filename": given.filename, "dld_endtime": None})


async def download(call: Call) -> Response:
    """9102: a kept file's bytes (``application/octet-stream``), the caller's own only."""
    call.caller.require("settle")
    asked: Download = parse(Download, call.envelope.input.get("fsdownloadin"), "input.fsDownloadIn")
    found = await call.read(lambda db: files.file(db, file_qury_no=asked.file_qury_no))
    if found is None or found["institution_id"] != call.caller.institution_id:
        raise InputError("input.fsDownloadIn.file_qury_no", f"no file {asked.file_qury_no}")
    headers = {"Content-Disposition": f'attachment; filename="{found["filename"]}"'}
    return Response(bytes(found["body"]), media_type="application/octet-stream", headers=headers)


def _text_rows(body: bytes) -> pd.DataFrame:
    """A detail file's rows: a zip holding one text, or the text; tab- (or comma-) separated, no header."""
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            body = archive.read(archive.namelist()[0])
    text = body.decode("utf-8-sig").strip()
    separator = "\t" if "\t" in text.split("\n", 1)[0] else ","
    frame = pd.read_csv(io.StringIO(text), sep=separator, header=None, dtype=str, keep_default_na=False)
    if frame.shape[1] < len(ROW_FIELDS):
        raise InputError(
            "input.data.file_qury_no", f"a detail row has {len(ROW_FIELDS)} fields: {', '.join(ROW_FIELDS)}"
        )
    return frame.iloc[:, : len(ROW_FIELDS)].set_axis(list(ROW_FIELDS), axis=1)


async def hospital_rows(call: Call, file_qury_no: str | None) -> pd.DataFrame | None:
    """The hospital's detail rows of a 3202: inline (``fsUploadIn`` rows) or its 9101 upload, or None."""
    inline = call.envelope.input.get("fsuploadin")
    if isinstance(inline, list):
        rows = [nhsa.tolerant(r) for r in inline if isinstance(r, dict)]
        return pd.DataFrame([{f: str(r.get(f, "")) for f in ROW_FIELDS} for r in rows], columns=list(ROW_FIELDS))
    if not file_qury_no:
        return None
    found = await call.read(lambda db: files.file(db, file_qury_no=file_qury_no))
    if found is None or found["institution_id"] != call.caller.institution_id:
        raise InputError("input.data.file_qury_no", f"no uploaded file {file_qury_no} (9101 first)")
    return _text_rows(bytes(found["body"]))


def _fen(text: pd.Series, where: str) -> pd.Series:
    try:
        return text.replace("", "0").map(lambda v: fen_of(v))
    except (ValueError, ArithmeticError) as exc:
        raise InputError(where, f"an amount in yuan: {exc}") from exc


def compare(theirs: pd.DataFrame, ours: pd.DataFrame) -> pd.DataFrame:
    """The result rows (:data:`RESULT_FIELDS`; money in fen): each of the hospital's rows against
    the books' row of its ``setl_id``, then the books' rows it did not send."""
    mine = ours.set_index("setl_id")
    medfee = _fen(theirs["medfee_sumamt"], "fsUploadIn.medfee_sumamt").to_numpy(np.int64)
    funds = _fen(theirs["fund_pay_sumamt"], "fsUploadIn.fund_pay_sumamt").to_numpy(np.int64)
    known = theirs["setl_id"].isin(mine.index).to_numpy()
    book_medfee = theirs["setl_id"].map(mine["medfee_sumamt"]).fillna(0).to_numpy(np.int64)
    book_funds = theirs["setl_id"].map(mine["fund_pay_sumamt"]).fillna(0).to_numpy(np.int64)
    same = known & (book_medfee == medfee) & (book_funds == funds)
    result = np.where(same, "0", np.where(known, "1", "2"))
    ours_text = "ours: medfee " + fen_to_yuan_text(book_medfee).astype(object) + ", funds "
    memo = np.where(result == "1", ours_text + fen_to_yuan_text(book_funds).astype(object),
                    np.where(result == "2", "not in the books", ""))  # fmt: skip
    sent = pd.DataFrame({"psn_no": theirs["psn_no"], "mdtrt_id": theirs["mdtrt_id"], "setl_id": theirs["setl_id"],
                         "msgid": "", "stmt_rslt": result, "refd_setl_flag": theirs["refd_setl_flag"], "memo": memo,
                         "medfee_sumamt": medfee, "fund_pay_sumamt": funds, "acct_pay": 0})  # fmt: skip
    missing = ours[~ours["setl_id"].isin(theirs["setl_id"])]
    unsent = pd.DataFrame({"psn_no": missing["person_id"], "mdtrt_id": missing["claim_id"].str.split("|").str[0],
                           "setl_id": missing["setl_id"], "msgid": "", "stmt_rslt": "3",
                           "refd_setl_flag": missing["refd_setl_flag"].astype(str), "memo": "not in your file",
                           "medfee_sumamt": missing["medfee_sumamt"], "fund_pay_sumamt": missing["fund_pay_sumamt"],
                           "acct_pay": 0})  # fmt: skip
    return pd.concat([sent, unsent], ignore_index=True)[list(RESULT_FIELDS)]


def result_file(result: pd.DataFrame, name: str) -> bytes:
    """The result rows as the platform's file: a zip of one tab-separated text, money in yuan."""
    money = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
    shown = result.assign(**{c: fen_to_yuan_text(result[c].to_numpy("int64")) for c in money})
    text = shown.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.txt", text)
    return out.getvalue()


async def keep(call: Call, body: bytes, filename: str) -> str:
    """Keep a result file for 9102; its number."""
    number, institution = f"F{uuid.uuid4().hex[:24].upper()}", call.caller.institution_id

    def work(db: Driver) -> None:
        db.commit(files.file_writes(file_qury_no=number, institution_id=institution, filename=filename, body=body))

    await write(call.request.app.state.database, work)
    return number


def counts(result: pd.DataFrame) -> dict[str, Any]:
    """How many result rows of each kind."""
    return {f"rows_{k}": int((result["stmt_rslt"] == k).sum()) for k in ("0", "1", "2", "3")}
