"""``POST /nhsa``: one endpoint for the platform's transactions, answering with its envelope.

2206/2303 pre-settle, 2207/2304 settle, 2208/2305 reverse, 5203 settlement query, 5206 person
accumulators, 2001 what each fund would do for a person, 3201 totals reconciliation, 3202 detail
reconciliation (row by row against the hospital's rows, :mod:`api.routes.nhsa_files`, else the
detail as a CSV file at ``GET /nhsa/files/{file_qury_no}``); 9101/9102 files; 9001/9002 sign in
and out, 2601 冲正 by the original ``msgid`` and 1101 person information
(:mod:`api.routes.nhsa_platform`); the visit lifecycle (:mod:`api.routes.nhsa_visits`) and its fee
details, 2204/2205, 2301/2302, 5204 (:mod:`api.routes.nhsa_details`). A translator onto the desk —
the same commands, the same books as the native API — with ``msgid`` as the idempotency key. Any
error is ``infcode = -1`` with the reason in ``err_msg`` (HTTP 200; 401/403 for a missing or refused
key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from api import desk, institutions, nhsa, nhsa_output, years
from api.auth import Caller
from api.books import details, queries, visits
from api.books.driver import Driver
from api.db import pooled_transaction
from api.deps import caller_of, hand_read
from api.errors import Problem
from api.idempotency import Reply, claimed, request_hash
from api.jsonbody import JsonBodyError, read_json
from api.nhsa import SETTLING, Envelope, InputError, SettleData, claim_moment, claim_of, data_of, parse
from api.nhsa_output import cum_info, settlement_output
from api.routes import nhsa_details, nhsa_files, nhsa_platform, nhsa_statements, nhsa_visits
from api.routes.persons import accumulators_out
from api.routes.settlements import reverse_settlement
from api.schemas import Text
from tiers.tables import CompiledPolicy
from tiers.vocabulary import Names

router = APIRouter(tags=["nhsa"])
ENVELOPE_EXAMPLE = {
    "infno": "2207",
    "msgid": "H12345678901202503011200000001",
    "mdtrtarea_admvs": "320600",
    "fixmedins_code": "H001",
    "inf_time": "2025-03-01 12:00:00",
    "input": {"data": {"psn_no": "P001", "mdtrt_id": "M1", "med_type": "21", "medfee_sumamt": "60000.00"}},
}


DOCUMENTED = hand_read(Envelope, idempotency_key=False)
DOCUMENTED["requestBody"]["content"]["application/json"]["example"] = ENVELOPE_EXAMPLE


@dataclass(frozen=True)
class Call:
    request: Request
    caller: Caller
    envelope: Envelope

    @property
    def policy(self) -> CompiledPolicy:
        policy: CompiledPolicy = self.request.app.state.policy
        return policy

    @property
    def key(self) -> str:
        return f"nhsa:{self.envelope.msgid}"

    @property
    def insutype(self) -> str:
        return self.policy.policy.insutype

    async def read(self, work: Callable[[Driver], Any]) -> Any:
        """``work`` on a reading transaction, in the threadpool."""

        def run() -> Any:
            with pooled_transaction(self.request.app.state.database, read_only=True) as db:
                return work(db)

        return await run_in_threadpool(run)


class ReverseData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    setl_id: Annotated[str, Field(min_length=1, max_length=40)]
    psn_no: Text | None = None
    mdtrt_id: str | None = None


class AccumulatorData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    cum_ym: Annotated[str, Field(pattern=r"^(19|2[0-9])[0-9]{2}(0[1-9]|1[0-2])$", description="yyyyMM")] | None = None


def _settlement(call: Call) -> desk.Command:
    """A settlement's command. What the message omits (visit type, diagnosis, admission) is taken
    from the visit it settles when one was registered (2201 / 2401), and the bill's parts from the
    visit's fee details when it has any (2204 / 2301; :func:`api.routes.nhsa_details.parts_from`) —
    checked against them when the message states them but omits something else: the visit is read
    in the batch's own transaction (:class:`api.desk.Incomplete`). A message that states everything
    is settled as stated, without reading its visit."""
    data: SettleData = parse(SettleData, data_of(call.envelope), "input.data")
    inpatient = SETTLING[call.envelope.transaction] == "21"
    if nhsa.parts_given(data) and data.dise_codg and data.med_type and (data.begntime or not inpatient):
        return _command(call, (data, []))  # the message says it all: taken as stated
    institution, mdtrt_id = call.caller.institution_id, data.mdtrt_id

    def complete(rows: list[list[tuple[Any, ...]]]) -> desk.SettleCommand:
        visit = visits.visit_of(rows[0])
        fees = details.details_of(rows[1]) if visit else []
        return _command(call, nhsa_details.parts_from(nhsa_visits.completed(data, visit), fees))

    reads = (visits.visit_read(institution_id=institution, mdtrt_id=mdtrt_id),
             details.details_read(institution_id=institution, mdtrt_id=mdtrt_id))  # fmt: skip
    slots = desk.slots_of(institution, data.psn_no, nhsa.claim_id_of(data), call.key)
    return desk.Incomplete(slots, reads, complete)


def _command(call: Call, prepared: tuple[SettleData, list[str]]) -> desk.SettleCommand:
    data, from_details = prepared
    if data.insutype and data.insutype != call.insutype:
        reason = f"{data.insutype} is not settled here (policy {call.policy.id}: {call.insutype})"
        raise InputError("input.data.insutype", reason)
    now = desk.now(call.policy).replace(tzinfo=None)
    level = institutions.claim_tier(call.caller, data.hosp_lv or data.exp_content.hosp_lv, "input.data.hosp_lv")
    claim = claim_of(call.envelope, data, level, now)
    facts = desk.check_claim(claim, call.policy, call.caller)
    categories, notes = nhsa.declared(data, call.policy.policy)
    notes += from_details or nhsa.parts_notes(data)
    msgid, policy = call.envelope.msgid, call.policy.policy

    visit = nhsa_output.Visit(data.psn_name, data.certno, claim_moment(call.envelope, data, now),
                              data.mdtrt_cert_type, call.envelope.insuplc_admdvs, data.medins_setl_id)  # fmt: skip

    def render(settled: desk.Settled) -> bytes:
        return nhsa.stored_reply(settlement_output(settled, msgid, policy, visit), [*settled.warnings, *notes])

    digest = request_hash("nhsa-settle", data.model_dump_json())  # the message: its time may be the service's
    return desk.SettleCommand(call.caller, facts, render, call.key, digest, register=True, declared=categories)


async def nhsa_pre_settle(call: Call) -> bytes:
    call.caller.require("settle")
    with pooled_transaction(call.request.app.state.batch_database, read_only=True) as db:
        (command,) = desk.completed(db, [_settlement(call)])
        if isinstance(command, Exception):
            raise command
        (done,) = desk.pre_settle_commands(db, [command], call.policy)
    if isinstance(done, Problem):
        raise done
    return command.render(done)


async def nhsa_settle(call: Call) -> bytes:
    call.caller.require("settle")
    with claimed(call.caller.institution_id, call.key):
        reply: Reply = await call.request.app.state.settlements.settle(lambda: _settlement(call))
    return reply.body


class EntitlementData(BaseModel):
    """2001 人员待遇享受检查: who, for which visit type, on which day, with which diagnosis."""

    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    med_type: Annotated[str, Field(min_length=1, max_length=10)]
    begntime: nhsa.Moment = None
    endtime: nhsa.Moment = None
    dise_codg: Annotated[str, Field(max_length=16, pattern=r"^[0-9A-Za-z.]*$")] = ""


async def entitlement(call: Call) -> bytes:
    """2001: what each fund would do for the person on that day — the desk's trial settlement of a
    probe bill (the same road as 2206), each layer's rule (or none) as the platform's ``trtinfo``."""
    call.caller.require("settle")
    asked: EntitlementData = parse(EntitlementData, data_of(call.envelope), "input.data")
    on = asked.endtime or asked.begntime or desk.now(call.policy).replace(tzinfo=None)
    probe = SettleData(psn_no=asked.psn_no, mdtrt_id="2001", med_type=asked.med_type, medfee_sumamt=Decimal(100),
                       dise_codg=asked.dise_codg, setl_time=on, begntime=asked.begntime)  # fmt: skip
    command = replace(_command(call, (probe, [])), register=False, key=None)
    with pooled_transaction(call.request.app.state.batch_database, read_only=True) as db:
        (done,) = desk.pre_settle_commands(db, [command], call.policy)
    if isinstance(done, Problem):
        raise done
    names, day, settled = Names(call.policy.policy), f"{on:%Y-%m-%d}", done.values  # noqa: PD011  (a row, not pandas)
    rows = [
        {"fund_pay_type": line["fund_pay_type"], "trt_chk_type": "1", "psn_no": asked.psn_no,
         "trt_enjymnt_flag": "1" if line["rule"] else "0", "begndate": day, "enddate": day,
         "trt_chk_rslt": f"{names.fund(line['output'])}: "
         + (names.rule(line["layer"], line["rule"]) if line["rule"] else f"no rule for {settled['category']}")}
        for line in done.lines
    ]  # fmt: skip
    return nhsa.stored_reply({"trtinfo": rows})


def _readable(db: Driver, call: Call, setl_id: str, psn_no: str | None) -> dict[str, Any]:
    row = queries.settlement(db, setl_id=setl_id)
    if row is None or not call.caller.may_read(row["institution_id"]):
        raise InputError("input.data.setl_id", f"no settlement {setl_id}")
    if psn_no is not None and psn_no != row["person_id"]:
        raise InputError("input.data.psn_no", f"settlement {setl_id} is not of person {psn_no}")
    return row


async def reverse(call: Call) -> bytes:
    call.caller.require("settle")
    data: ReverseData = parse(ReverseData, data_of(call.envelope), "input.data")
    await call.read(lambda db: _readable(db, call, data.setl_id, data.psn_no))
    msgid, policy = call.envelope.msgid, call.policy.policy

    def render(settled: desk.Settled) -> bytes:
        return nhsa.stored_reply(settlement_output(settled, msgid, policy))

    digest = request_hash("nhsa-reverse", data.setl_id)
    return (
        await reverse_settlement(
            call.request, years.ReverseCommand(call.caller, data.setl_id, render, call.key, digest)
        )
    ).body


async def query(call: Call) -> bytes:
    data: ReverseData = parse(ReverseData, data_of(call.envelope), "input.data")

    def work(db: Driver) -> bytes:
        row = _readable(db, call, data.setl_id, data.psn_no)
        person = queries.person(db, person_id=row["person_id"]) or {}
        identity = (str(person.get("name") or ""), str(person.get("id_number") or ""))
        settled = desk.Settled(row, queries.lines(db, setl_id=row["setl_id"]), person=identity)
        return nhsa.stored_reply(settlement_output(settled, None, call.policy.policy))  # the msgid is not kept

    result: bytes = await call.read(work)
    return result


async def accumulators(call: Call) -> bytes:
    if not ({"persons", "read:all", "settle"} & call.caller.scopes):
        raise Problem(403, "forbidden", "this key may not read persons")
    data: AccumulatorData = parse(AccumulatorData, data_of(call.envelope), "input.data")
    on = call.envelope.inf_time.date() if call.envelope.inf_time else date.today()
    if data.cum_ym:
        year, month = int(data.cum_ym[:4]), int(data.cum_ym[4:])
        on = (pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)).date()

    def work(db: Driver) -> tuple[Any, list[dict[str, Any]]]:
        out = accumulators_out(db, call.policy, data.psn_no, on.year, on)
        return out, queries.standing(db, person_id=data.psn_no, year=on.year)

    out, standing = await call.read(work)
    cum = [
        {"insutype": call.insutype, "year": out.year, "cum_ym": f"{on:%Y%m}", "cum_type_code": code,
         "cum": value if isinstance(value, int) else nhsa.exact_yuan(value)}
        for code, value in cum_info(standing, out.buckets, call.policy.policy)
    ]  # fmt: skip
    buckets = [
        {
            "layer": b.layer,
            "bucket": b.bucket,
            "cum": nhsa.exact_yuan(b.paid_cum),
            "base_cum": nhsa.exact_yuan(b.base_cum),
            "claims": b.claims,
            "caps": [_cap(c) for c in b.caps],
        }
        for b in out.buckets
    ]
    body = {"psn_no": data.psn_no, "relief_category": out.category, "cuminfo": cum, "bucketinfo": buckets}
    return nhsa.stored_reply(body)


def _cap(cap: Any) -> dict[str, Any]:
    left = None if cap.cap_left is None else nhsa.exact_yuan(cap.cap_left)
    return {"rule": cap.rule, "cap": None if cap.cap is None else nhsa.exact_yuan(cap.cap), "crt_payb_lmt_amt": left}


HANDLERS: dict[str, Callable[[Call], Awaitable[bytes]]] = {
    **{infno: (nhsa_pre_settle if infno in ("2206", "2303") else nhsa_settle) for infno in SETTLING},
    "2208": reverse,
    "2305": reverse,
    "5203": query,
    "2001": entitlement,
    "5206": accumulators,
    "3201": nhsa_statements.totals,
    "3202": nhsa_statements.detail,
    **nhsa_visits.HANDLERS,
    **nhsa_details.HANDLERS,
    "9001": nhsa_platform.sign_in,
    "9002": nhsa_platform.sign_out,
    "2601": nhsa_platform.recall,
    "1101": nhsa_platform.person_info,
    "9101": nhsa_files.upload,
}


def _body(raw: bytes) -> Any:
    try:
        return read_json(raw)
    except JsonBodyError as exc:
        raise InputError("/".join(exc.path) or "body", exc.reason) from exc


def _envelope(body: Any) -> Envelope:
    if not isinstance(body, dict):
        raise InputError("", "the request is a JSON object (the platform's envelope)")
    envelope: Envelope = parse(Envelope, body, "")
    return envelope


@router.post(
    "/nhsa",
    response_class=Response,
    summary="Platform transactions in the national envelope (infno, msgid, input → infcode, output)",
    openapi_extra=DOCUMENTED,
)
async def transaction(request: Request) -> Response:
    caller = caller_of(request)
    envelope = None
    try:
        envelope = _envelope(_body(await request.body()))
        if envelope.fixmedins_code not in (None, caller.institution_id):
            raise InputError("fixmedins_code", f"{envelope.fixmedins_code} is not the institution of this API key")
        if envelope.transaction == "9102":  # the file itself, not an envelope
            return await nhsa_files.download(Call(request, caller, envelope))
        handler = HANDLERS.get(envelope.transaction)
        if handler is None:
            offered = sorted([*HANDLERS, "9102"])
            raise InputError("infno", f"transaction {envelope.infno} is not offered (offered: {offered})")
        stored = await handler(Call(request, caller, envelope))
        return Response(nhsa.envelope_bytes(envelope, stored), media_type="application/json")
    except InputError as exc:
        return Response(nhsa.envelope_bytes(envelope, None, str(exc)), media_type="application/json")
    except Problem as exc:
        where = f" ({exc.param})" if exc.param else ""
        return Response(
            nhsa.envelope_bytes(envelope, None, f"{exc.code}{where}: {exc.detail}"), media_type="application/json"
        )


HOT_ROUTES = [Route("/nhsa", transaction, methods=["POST"])]
"""``POST /nhsa`` as a plain Starlette route in front of FastAPI's router (which documents it), like
the native settlement route: no dependency injection per message."""
