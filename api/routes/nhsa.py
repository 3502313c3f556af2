"""``POST /nhsa``: one endpoint for the platform's transactions, answering with its envelope.

2206/2303 pre-settle, 2207/2304 settle, 2208/2305 reverse, 5203 settlement query, 5206 person
accumulators, 3201 totals reconciliation, 3202 detail reconciliation (the detail as a CSV file at
``GET /nhsa/files/{file_qury_no}``). Every transaction is the native service underneath — the
same rules, the same books — with ``msgid`` as the idempotency key. Any error is ``infcode = -1``
with the reason in ``err_msg`` (HTTP 200; 401/403 for a missing or refused key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api import export, resettlement, service, store
from api.auth import Caller
from api.caps import caps_left
from api.deps import CallerDep, PolicyDep, SessionDep, WriteSessionDep, writing
from api.errors import Problem
from api.models import Settlement
from api.nhsa import (
    SETTLING,
    Envelope,
    InputError,
    SettleData,
    claim_of,
    data_of,
    identities_of,
    parse,
    reply,
    setldetail,
    setlinfo,
)
from api.schemas import ClaimIn, SettlementOut, Text
from settlement.money import fen_to_yuan_text
from tiers.tables import CompiledPolicy

router = APIRouter(tags=["nhsa"])
ENVELOPE_EXAMPLE = {
    "infno": "2207",
    "msgid": "H12345678901202503011200000001",
    "mdtrtarea_admvs": "320600",
    "fixmedins_code": "H001",
    "inf_time": "2025-03-01 12:00:00",
    "input": {"data": {"psn_no": "P001", "mdtrt_id": "M1", "med_type": "21", "medfee_sumamt": "60000.00"}},
}


@dataclass(frozen=True)
class Call:
    session: Session
    caller: Caller
    policy: CompiledPolicy
    envelope: Envelope

    @property
    def key(self) -> str:
        return f"nhsa:{self.envelope.msgid}"


class ReverseData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    setl_id: Annotated[str, Field(min_length=1, max_length=40)]
    psn_no: Text | None = None
    mdtrt_id: str | None = None


class AccumulatorData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    cum_ym: Annotated[str, Field(pattern=r"^[0-9]{4}(0[1-9]|1[0-2])$", description="yyyyMM")] | None = None


Signed = Annotated[Decimal, Field(max_digits=16, decimal_places=2)]


class StatementData(BaseModel):
    """3201/3202: the hospital's totals of a period, to be compared with ours."""

    model_config = ConfigDict(extra="ignore")

    stmt_begndate: date
    stmt_enddate: date
    insutype: str | None = None
    setl_optins: str | None = None
    refd_setl_flag: Literal["0", "1"] | None = None
    medfee_sumamt: Signed
    fund_pay_sumamt: Signed
    acct_pay: Signed = Decimal(0)
    cash_payamt: Signed | None = None
    fixmedins_setl_cnt: Annotated[int, Field(ge=0)]


def _settlement_output(call: Call, out: SettlementOut, msgid: str | None) -> dict[str, Any]:
    insutype = call.policy.policy.insutype
    return {"setlinfo": setlinfo(out, msgid, insutype), "setldetail": setldetail(out)}


def _claim(call: Call) -> tuple[ClaimIn, Callable[[], None], str]:
    data: SettleData = parse(SettleData, data_of(call.envelope), "input.data")
    if data.insutype and data.insutype != call.policy.policy.insutype:
        reason = f"{data.insutype} is not settled here (policy {call.policy.id}: {call.policy.policy.insutype})"
        raise InputError("input.data.insutype", reason)
    claim = claim_of(call.envelope, data)
    identities = identities_of(data, call.policy.policy)

    def prepare() -> None:
        resettlement.ensure_identities(
            call.session, call.caller.institution_id, claim.person_id, identities, call.policy
        )

    return claim, prepare, "".join(i.model_dump_json() for i in identities)


def pre_settle(call: Call) -> dict[str, Any]:
    call.caller.require("settle")
    claim, prepare, _ = _claim(call)
    with writing(call.session):
        out = service.pre_settle(call.session, call.caller, claim, call.policy, prepare)
    return _settlement_output(call, out, call.envelope.msgid)


def settle(call: Call) -> dict[str, Any]:
    call.caller.require("settle")
    claim, prepare, extra = _claim(call)
    with writing(call.session):
        done = service.settle(call.session, call.caller, claim, call.policy, call.key, prepare, extra)
    return _settlement_output(call, SettlementOut.model_validate_json(done.body), call.envelope.msgid)


def _readable(call: Call, setl_id: str, psn_no: str | None) -> Settlement:
    row = call.session.get(Settlement, setl_id)
    if row is None or not call.caller.may_read(row.institution_id):
        raise InputError("input.data.setl_id", f"no settlement {setl_id}")
    if psn_no is not None and psn_no != row.person_id:
        raise InputError("input.data.psn_no", f"settlement {setl_id} is not of person {psn_no}")
    return row


def reverse(call: Call) -> dict[str, Any]:
    call.caller.require("settle")
    data: ReverseData = parse(ReverseData, data_of(call.envelope), "input.data")
    with writing(call.session):
        _readable(call, data.setl_id, data.psn_no)
        done = service.reverse(call.session, call.caller, data.setl_id, call.policy, call.key)
    return _settlement_output(call, SettlementOut.model_validate_json(done.body), call.envelope.msgid)


def query(call: Call) -> dict[str, Any]:
    data: ReverseData = parse(ReverseData, data_of(call.envelope), "input.data")
    row = _readable(call, data.setl_id, data.psn_no)
    lines, adjustments = store.lines_of(call.session, row.setl_id), store.adjustments_of(call.session, row.setl_id)
    return _settlement_output(call, store.settlement_out(row, lines, adjustments), None)  # the msgid is not kept


def accumulators(call: Call) -> dict[str, Any]:
    if not ({"persons", "read:all", "settle"} & call.caller.scopes):
        raise Problem(403, "forbidden", "this key may not read persons")
    data: AccumulatorData = parse(AccumulatorData, data_of(call.envelope), "input.data")
    on = call.envelope.inf_time.date() if call.envelope.inf_time else date.today()
    if data.cum_ym:
        year, month = int(data.cum_ym[:4]), int(data.cum_ym[4:])
        on = (pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)).date()
    categories = store.categories_on(call.session, data.psn_no, on)
    out = caps_left(
        call.policy, data.psn_no, on.year, on, categories, store.accumulator_rows(call.session, data.psn_no, on.year)
    )
    rows = [
        {
            "insutype": call.policy.policy.insutype,
            "year": out.year,
            "cum_ym": f"{on:%Y%m}",
            "cum_type_code": f"{b.layer}.{b.bucket}",
            "cum": b.paid_cum,
            "base_cum": b.base_cum,
            "claims": b.claims,
            "caps": [{"rule": c.rule, "cap": c.cap, "crt_payb_lmt_amt": c.cap_left} for c in b.caps],
        }
        for b in out.buckets
    ]
    return {"psn_no": data.psn_no, "relief_category": out.category, "cuminfo": rows}


def _period_books(
    session: Session, institution: str, begin: date, end: date, flag: str | None, insutype: str | None = None
) -> pd.DataFrame:
    """The institution's settlement and reversal rows of a period (only one kind when ``flag`` is given)."""
    frame = export.settlements(session, begin, end)
    mine = frame[frame["institution_id"] == institution]
    if insutype:
        mine = mine[mine["insutype"] == insutype]
    if flag is not None:
        mine = mine[mine["refd_setl_flag"] == int(flag)]
    return mine


def _books(call: Call, data: StatementData) -> pd.DataFrame:
    begin, end, flag = data.stmt_begndate, data.stmt_enddate, data.refd_setl_flag
    return _period_books(call.session, call.caller.institution_id, begin, end, flag, data.insutype)


def _compare(call: Call, data: StatementData) -> tuple[pd.DataFrame, dict[str, Any]]:
    books = _books(call, data)
    ours = {
        "medfee_sumamt": store.yuan(int(books["medfee_sumamt"].sum())),
        "fund_pay_sumamt": store.yuan(int(books["fund_pay_sumamt"].sum())),
        "acct_pay": Decimal(0),
        "fixmedins_setl_cnt": len(books),
    }
    theirs = {k: getattr(data, k) for k in ours}
    differ = [f"{k}: ours {ours[k]}, yours {theirs[k]}" for k in ours if ours[k] != theirs[k]]
    info = {
        "setl_optins": data.setl_optins or call.envelope.insuplc_admdvs,
        "stmt_rslt": "1" if differ else "0",
        "stmt_rslt_dscr": "; ".join(differ) if differ else "平 (balanced)",
    }
    return books, {"stmtinfo": info, "totals": ours}


def totals(call: Call) -> dict[str, Any]:
    data: StatementData = parse(StatementData, data_of(call.envelope), "input.data")
    return _compare(call, data)[1]


def detail(call: Call) -> dict[str, Any]:
    data: StatementData = parse(StatementData, data_of(call.envelope), "input.data")
    _, compared = _compare(call, data)
    number = f"{data.stmt_begndate:%Y%m%d}{data.stmt_enddate:%Y%m%d}{data.refd_setl_flag or 'A'}"
    file = {"file_qury_no": number, "filename": f"3202-{number}.csv", "dld_endtime": None}
    return {**compared, "fileinfo": file}


HANDLERS: dict[str, Callable[[Call], dict[str, Any]]] = {
    **{infno: (pre_settle if infno in ("2206", "2303") else settle) for infno in SETTLING},
    "2208": reverse,
    "2305": reverse,
    "5203": query,
    "5206": accumulators,
    "3201": totals,
    "3202": detail,
}
READING = frozenset({"5203", "5206", "3201", "3202"})
"""Transactions that only read (the others take the write turn themselves)."""


@router.post("/nhsa", summary="Platform transactions in the national envelope (infno, msgid, input → infcode, output)")
def transaction(
    body: Annotated[dict[str, Any], Body(examples=[ENVELOPE_EXAMPLE])],
    session: WriteSessionDep,
    caller: CallerDep,
    policy: PolicyDep,
) -> JSONResponse:
    envelope = None
    try:
        envelope = parse(Envelope, body, "")
        if envelope.fixmedins_code != caller.institution_id:
            raise InputError("fixmedins_code", f"{envelope.fixmedins_code} is not the institution of this API key")
        handler = HANDLERS.get(envelope.infno)
        if handler is None:
            raise InputError("infno", f"transaction {envelope.infno} is not offered (offered: {sorted(HANDLERS)})")
        call = Call(session, caller, policy, envelope)
        if envelope.infno in READING:
            with writing(session):  # on SQLite this session begins IMMEDIATE: take the process's turn
                return JSONResponse(reply(envelope, handler(call)))
        return JSONResponse(reply(envelope, handler(call)))
    except InputError as exc:
        return JSONResponse(reply(envelope, None, str(exc)))
    except Problem as exc:
        where = f" ({exc.param})" if exc.param else ""
        return JSONResponse(reply(envelope, None, f"{exc.code}{where}: {exc.detail}"))


FILE_COLUMNS = [
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "stmt_rslt",
    "refd_setl_flag",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
]


@router.get("/nhsa/files/{file_qury_no}", response_class=Response, summary="The detail file of a 3202 (CSV, yuan)")
def detail_file(
    file_qury_no: Annotated[str, Path(pattern=r"^[0-9]{16}[01A]$")], session: SessionDep, caller: CallerDep
) -> Response:
    try:
        begin, end = date.fromisoformat(_iso(file_qury_no[:8])), date.fromisoformat(_iso(file_qury_no[8:16]))
    except ValueError as exc:
        raise Problem(404, "file_not_found", f"no detail file {file_qury_no}", "file_qury_no") from exc
    flag = None if file_qury_no[16] == "A" else file_qury_no[16]
    frame = _period_books(session, caller.institution_id, begin, end, flag)
    rows = pd.DataFrame(
        {
            "psn_no": frame["person_id"],
            "mdtrt_id": frame["claim_id"].str.split("|", n=1).str[0],  # (partition fails on no rows)
            "setl_id": frame["setl_id"],
            "stmt_rslt": "0",
            "refd_setl_flag": frame["refd_setl_flag"],
            "medfee_sumamt": fen_to_yuan_text(frame["medfee_sumamt"].to_numpy(np.int64)),
            "fund_pay_sumamt": fen_to_yuan_text(frame["fund_pay_sumamt"].to_numpy(np.int64)),
            "acct_pay": "0.00",
        },
        columns=FILE_COLUMNS,
    )
    return Response(rows.to_csv(index=False), media_type="text/csv; charset=utf-8")


def _iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"
