"""The visit lifecycle on ``POST /nhsa``: 2201 门诊挂号 / 2202 撤销, 2203 就诊信息上传, 2401 入院办理 /
2404 撤销, 2402 出院办理 / 2405 撤销.

Real HIS clients send the diagnosis, the visit type and the admission time here, not with the
settlement (liwerAKM/YbRefund ``Plat/Models/MZJS/T2201.cs``, ``T2203.cs`` — ``diseinfo`` an object or a
list; fengzaiqishi11/hsa-his ``unifiedpay/util/inptregister/InptRegisterReqUtil.java`` and
``OutHospRegisterReqUtil.java`` — ``mdtrtinfo``/``dscginfo`` with ``diseinfo`` rows whose
``maindiag_flag`` marks the main diagnosis). A settlement of the visit's ``mdtrt_id`` takes what its
message omits from the visit (:func:`completed`). Each act is idempotent by ``msgid``: a retried 2201
answers the same ``mdtrt_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api import nhsa
from api.books import queries, visits, writing
from api.books.driver import Driver, Write
from api.nhsa import InputError, Moment, SettleData, data_of, parse
from api.queue import write
from api.schemas import Text

if TYPE_CHECKING:
    from api.routes.nhsa import Call

Code = Annotated[str, Field(max_length=32)]


class Diagnosis(BaseModel):
    """A ``diseinfo`` row."""

    model_config = ConfigDict(extra="ignore")

    diag_code: Annotated[str, Field(max_length=32, pattern=r"^[0-9A-Za-z.+*]*$")] = ""
    maindiag_flag: str | int | None = None
    diag_srt_no: str | int | None = None


class VisitInfo(BaseModel):
    """``data`` (2201), ``mdtrtinfo`` (2203, 2401) or ``dscginfo`` (2402) with what a visit keeps."""

    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    mdtrt_id: Annotated[str, Field(max_length=30)] | None = None
    med_type: Code | None = None
    begntime: Moment = None
    endtime: Moment = None
    dise_codg: Annotated[str, Field(max_length=32, pattern=r"^[0-9A-Za-z.+*]*$")] = ""
    dscg_maindiag_code: Annotated[str, Field(max_length=32, pattern=r"^[0-9A-Za-z.+*]*$")] = ""


def main_diagnosis(raw: Any, info: VisitInfo) -> str:
    """The main diagnosis: the ``diseinfo`` row flagged main (else the first by ``diag_srt_no``), else
    the info's own code."""
    rows = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    parsed = [parse(Diagnosis, row, "input.diseinfo") for row in rows if isinstance(row, dict)]
    flagged = [d for d in parsed if str(d.maindiag_flag) == "1" and d.diag_code]
    ordered = sorted((d for d in parsed if d.diag_code), key=lambda d: int(str(d.diag_srt_no or 0) or 0))
    chosen = flagged or ordered
    return chosen[0].diag_code if chosen else (info.dscg_maindiag_code or info.dise_codg)


def _block(call: Call, block: str) -> dict[str, Any]:
    """The message's visit block: ``data`` (2201), ``mdtrtinfo`` (2203, 2401), ``dscginfo`` (2402;
    some clients name it ``mdtrtinfo``)."""
    given = call.envelope.input
    raw = data_of(call.envelope) if block == "data" else given.get(block, given.get("mdtrtinfo"))
    if not isinstance(raw, dict):
        raise InputError(f"input.{block}", "expected an object")
    return raw


def _info(call: Call, block: str) -> tuple[VisitInfo, str]:
    """The message's visit block and its main diagnosis."""
    info: VisitInfo = parse(VisitInfo, _block(call, block), f"input.{block}")
    return info, main_diagnosis(call.envelope.input.get("diseinfo"), info)


async def once(call: Call, work: Any) -> bytes:
    """``work(db) -> (writes, reply)`` in one transaction with the reply kept under the msgid, or the
    reply already kept (a retry)."""
    institution, key = call.caller.institution_id, call.key

    def run(db: Driver) -> bytes:
        kept = queries.stored_reply(db, institution_id=institution, key=key)
        if kept is not None:
            db.rollback()
            return kept[1]
        writes, reply = work(db)
        db.commit([*writes, *writing.reply_writes(institution_id=institution, key=key, digest="visit", status=200,
                                                  body=reply)])  # fmt: skip
        return bytes(reply)

    result: bytes = await write(call.request.app.state.database, run)
    return result


def owned(db: Driver, call: Call, mdtrt_id: str | None, psn_no: str) -> dict[str, Any]:
    if not mdtrt_id:
        raise InputError("input.mdtrt_id", "the visit's mdtrt_id is required")
    found = visits.visit(db, institution_id=call.caller.institution_id, mdtrt_id=mdtrt_id)
    if found is None:
        raise InputError("input.mdtrt_id", f"no visit {mdtrt_id} of this institution")
    if found["person_id"] != psn_no:
        raise InputError("input.psn_no", f"visit {mdtrt_id} is of another person")
    return found


async def register(call: Call, kind: str, block: str) -> bytes:
    """2201 挂号 (``data``) / 2401 入院 (``mdtrtinfo``): a new visit and its ``mdtrt_id``."""
    call.caller.require("settle")
    info, diagnosis = _info(call, block)
    med_type = info.med_type or ("21" if kind == "inpatient" else "11")
    mdtrt_id = f"V{uuid.uuid4().hex[:20].upper()}"

    def work(db: Driver) -> tuple[list[Write], bytes]:
        writes = visits.registration_writes(institution_id=call.caller.institution_id, mdtrt_id=mdtrt_id,
                                            person_id=info.psn_no, kind=kind, med_type=med_type,
                                            begntime=info.begntime, diagnosis=diagnosis)  # fmt: skip
        answer = {"mdtrt_id": mdtrt_id, "psn_no": info.psn_no, "ipt_otp_no": _block(call, block).get("ipt_otp_no")}
        return writes, nhsa.stored_reply({"data" if block == "data" else "result": answer})

    return await once(call, work)


async def outpatient_register(call: Call) -> bytes:
    return await register(call, "outpatient", "data")


async def admit(call: Call) -> bytes:
    return await register(call, "inpatient", "mdtrtinfo")


async def _change(call: Call, psn_no: str, mdtrt_id: str | None, change: Callable[[dict[str, Any]], Write]) -> bytes:
    """One change of the caller's visit of ``psn_no`` (``change``: the visit as stored → its write),
    answered with an empty output, once per msgid."""

    def work(db: Driver) -> tuple[list[Write], bytes]:
        return [change(owned(db, call, mdtrt_id, psn_no))], nhsa.stored_reply({})

    return await once(call, work)


async def upload_details(call: Call) -> bytes:
    """2203 就诊信息上传: the visit type, main diagnosis and start of an outpatient visit."""
    call.caller.require("settle")
    info, diagnosis = _info(call, "mdtrtinfo")
    return await _change(call, info.psn_no, info.mdtrt_id, lambda found: visits.details_write(
        institution_id=call.caller.institution_id, mdtrt_id=found["mdtrt_id"],
        med_type=info.med_type or found["med_type"], diagnosis=diagnosis or found["diagnosis"],
        begntime=info.begntime or found["begntime"]))  # fmt: skip


async def discharge(call: Call) -> bytes:
    """2402 出院办理: the stay's end and discharge diagnosis."""
    call.caller.require("settle")
    info, diagnosis = _info(call, "dscginfo")
    return await _change(call, info.psn_no, info.mdtrt_id, lambda found: visits.discharge_write(
        institution_id=call.caller.institution_id, mdtrt_id=found["mdtrt_id"], endtime=info.endtime,
        diagnosis=diagnosis or found["diagnosis"], status="discharged"))  # fmt: skip


class Cancel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    mdtrt_id: Annotated[str, Field(max_length=30)]


async def cancel(call: Call, undo_discharge: bool = False) -> bytes:
    """2202 / 2404 撤销 (the visit is cancelled), 2405 出院撤销 (open again)."""
    call.caller.require("settle")
    data: Cancel = parse(Cancel, data_of(call.envelope), "input.data")
    institution = call.caller.institution_id

    def undone(found: dict[str, Any]) -> Write:
        if undo_discharge:
            return visits.discharge_write(institution_id=institution, mdtrt_id=found["mdtrt_id"], endtime=None,
                                          diagnosis=found["diagnosis"], status="open")  # fmt: skip
        return visits.status_write(institution_id=institution, mdtrt_id=found["mdtrt_id"], status="cancelled")

    return await _change(call, data.psn_no, data.mdtrt_id, undone)


async def cancel_visit(call: Call) -> bytes:
    return await cancel(call)


async def cancel_discharge(call: Call) -> bytes:
    return await cancel(call, undo_discharge=True)


def completed(data: SettleData, visit: dict[str, Any] | None) -> SettleData:
    """A settlement's data with what its message omits taken from its visit (visit type, diagnosis,
    admission); a visit of another person or cancelled is refused."""
    if visit is None:
        return data
    if visit["person_id"] != data.psn_no:
        raise InputError("input.data.psn_no", f"visit {data.mdtrt_id} is of another person")
    if visit["status"] == "cancelled":
        raise InputError("input.data.mdtrt_id", f"visit {data.mdtrt_id} was cancelled")
    update = {
        "med_type": data.med_type or visit["med_type"] or None,
        "dise_codg": data.dise_codg or visit["diagnosis"],
        "begntime": data.begntime or (visit["begntime"] if visit["kind"] == "inpatient" else None),
    }
    return data.model_copy(update=update)


HANDLERS = {"2201": outpatient_register, "2202": cancel_visit, "2203": upload_details, "2401": admit,
            "2402": discharge, "2404": cancel_visit, "2405": cancel_discharge}  # fmt: skip
"""The visit transactions, for :data:`api.routes.nhsa.HANDLERS`."""
