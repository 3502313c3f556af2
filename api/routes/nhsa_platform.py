"""The platform's housekeeping transactions on ``POST /nhsa``: 9001 签到 / 9002 签退, 2601 冲正 by the
original ``msgid``, 1101 人员信息获取 from the registry.

Built as real HIS clients send them: ``signIn`` / ``signOut`` objects (liwerAKM/YbRefund
``BusinessCSB/Models/QD/T9001.cs``, ``T9002.cs``), 2601 ``data: {psn_no, omsgid, oinfno}``
(YbRefund ``Plat/Models/T2601.cs``; fengzaiqishi11/hsa-his ``InsureUnifiedPayReversalTradeBOImpl``),
1101 ``data: {mdtrt_cert_type, mdtrt_cert_no, card_sn, begntime, psn_cert_type, certno, psn_name}``
(YbRefund ``Plat/Models/T1101.cs``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from api import desk, nhsa, nhsa_output, years
from api.books import details, queries, visits, writing
from api.books.driver import Driver
from api.claims import ClaimFacts
from api.db import INTEGRITY_ERRORS
from api.desk import Settled
from api.errors import Problem
from api.idempotency import claimed, request_hash
from api.nhsa import InputError, data_of, parse
from api.nhsa_output import settlement_output
from api.queue import write
from api.routes.settlements import reverse_settlement
from api.schemas import Text
from tiers.vocabulary import Names

if TYPE_CHECKING:
    from api.routes.nhsa import Call

SETTLEMENTS = ("2207", "2304")
REVERSALS = ("2208", "2305")
REGISTRATIONS = ("2201", "2401")
UPLOADS = ("2204", "2301")
T = TypeVar("T")
UNDONE = "2601-undone"
"""The request hash of the record 2601 leaves under an original ``msgid`` that never settled: a
late arrival of that message is then refused instead of settling after its own 冲正."""


def sign_no(institution_id: str, day: date) -> str:
    """签到编号: one per institution and day (30 digits: the day, then a digest of both)."""
    digest = int(hashlib.sha256(f"{institution_id}\n{day}".encode()).hexdigest(), 16)
    return f"{day:%Y%m%d}{digest % 10**22:022d}"


async def sign_in(call: Call) -> bytes:
    """9001 签到: today's ``sign_no`` of the calling institution (the same all day)."""
    now = desk.now(call.policy)
    info = {"sign_time": f"{now:%Y-%m-%d %H:%M:%S}", "sign_no": sign_no(call.caller.institution_id, now.date())}
    return nhsa.stored_reply({"signinoutb": info})


async def sign_out(call: Call) -> bytes:
    """9002 签退."""
    return nhsa.stored_reply({"signoutoutb": {"sign_time": f"{desk.now(call.policy):%Y-%m-%d %H:%M:%S}"}})


class RecallData(BaseModel):
    """2601 ``input.data``: the message to undo."""

    model_config = ConfigDict(extra="ignore")

    psn_no: Text | None = None
    omsgid: Annotated[str, Field(min_length=1, max_length=30)]
    oinfno: Annotated[str, Field(pattern=r"^[0-9]{4}A?$")]


def _original_reply(db: Driver, call: Call, omsgid: str) -> tuple[str, bytes] | None:
    """What the original message left (its reply, or an earlier 2601's mark), or None; when None,
    a mark is left so the original, arriving late, is refused rather than settled."""
    key = f"nhsa:{omsgid}"
    found = queries.stored_reply(db, institution_id=call.caller.institution_id, key=key)
    if found is None:
        note = nhsa.stored_reply({"omsgid": omsgid}, [f"message {omsgid} was undone by 2601 before it settled"])
        db.commit(writing.reply_writes(institution_id=call.caller.institution_id, key=key, digest=UNDONE,
                                       status=200, body=note))  # fmt: skip
    return found


async def recall(call: Call) -> bytes:
    """2601 冲正: undo what an earlier message (``omsgid``) did — after a timed-out 2207 the hospital
    has no ``setl_id`` to reverse. A settlement is reversed, a reversal (2208/2305) settled again, a
    registration cancelled, a fee detail upload's rows cancelled. Idempotent: a message that never
    arrived is marked so it never does anything; one already undone is answered as done."""
    call.caller.require("settle")
    data: RecallData = parse(RecallData, data_of(call.envelope), "input.data")
    original = data.oinfno[:4]
    done = {"omsgid": data.omsgid, "oinfno": data.oinfno}
    if original in REVERSALS:
        return await _unreverse(call, data, done)
    if original in REGISTRATIONS:
        return await _unregister(call, data, done)
    if original in UPLOADS:
        return await _unupload(call, data, done)
    if original not in SETTLEMENTS:
        return nhsa.stored_reply(done, [f"transaction {data.oinfno} changed nothing: nothing to undo"])
    found = await _original(call, data)
    if found is None:
        return nhsa.stored_reply(done, [f"no settlement was made by message {data.omsgid}; none will be"])
    setl_id = str(json.loads(found[1])["output"]["setlinfo"]["setl_id"])
    msgid, policy = call.envelope.msgid, call.policy.policy

    def render(settled: Settled) -> bytes:
        return nhsa.stored_reply({**done, **settlement_output(settled, msgid, policy)})

    command = years.ReverseCommand(call.caller, setl_id, render, call.key, request_hash("nhsa-recall", setl_id))
    try:
        return (await reverse_settlement(call.request, command)).body
    except Problem as problem:
        if problem.code != "already_reversed":
            raise
        return nhsa.stored_reply({**done, "setl_id": setl_id}, [f"settlement {setl_id} is already reversed"])


async def _original(call: Call, data: RecallData) -> tuple[str, bytes] | None:
    """The reply the message left, or None — then it is marked so it never does anything."""
    found = await _undoing(call, lambda db: _original_reply(db, call, data.omsgid))
    return None if found is None or found[0] == UNDONE else found


async def _unreverse(call: Call, data: RecallData, done: dict[str, Any]) -> bytes:
    """2601 of a 2208 / 2305 退费 whose answer was lost: the claim it took back is settled again from
    its stored facts — a new settlement (arrival order: now), answered as a settlement is."""
    found = await _original(call, data)
    if found is None:
        return nhsa.stored_reply(done, [f"no reversal was made by message {data.omsgid}; none will be"])
    reversal, institution = str(json.loads(found[1])["output"]["setlinfo"]["setl_id"]), call.caller.institution_id

    def reversed_claim(db: Driver) -> tuple[dict[str, Any] | None, str | None]:
        row = queries.settlement(db, setl_id=reversal)
        first = queries.settlement(db, setl_id=str(row["reverses"])) if row and row.get("reverses") else None
        claim = str(first["claim_id"]) if first else ""
        return first, queries.standing_of_claim(db, institution_id=institution, claim_id=claim) if first else None

    first, standing = await call.read(reversed_claim)
    if first is None:
        raise InputError("input.data.omsgid", f"message {data.omsgid} reversed no settlement of this service")
    if standing is not None:
        return nhsa.stored_reply({**done, "setl_id": standing}, [f"the claim stands again as settlement {standing}"])
    msgid, policy = call.envelope.msgid, call.policy.policy

    def render(settled: Settled) -> bytes:
        note = f"the reversal {reversal} undone: settlement {first['setl_id']}'s claim settled again"
        return nhsa.stored_reply({**done, **settlement_output(settled, msgid, policy)}, [note, *settled.warnings])

    facts = ClaimFacts.of_row(first, policy.dated_by)
    command = desk.SettleCommand(call.caller, facts, render, call.key, request_hash("nhsa-unreverse", reversal))
    with claimed(institution, command.key):
        reply = await call.request.app.state.settlements.settle(command)
    return bytes(reply.body)


async def _undoing(call: Call, work: Callable[[Driver], T]) -> T:
    """``work`` in a write transaction — once more if the original message landed meanwhile (its
    record under the msgid collided with the mark that it never will)."""
    try:
        return await write(call.request.app.state.database, work)
    except INTEGRITY_ERRORS:
        return await write(call.request.app.state.database, work)


async def _unregister(call: Call, data: RecallData, done: dict[str, Any]) -> bytes:
    """2601 of a 2201 挂号 / 2401 入院: the visit it registered is cancelled (a message that never
    arrived is marked, as for a settlement, so it never registers)."""
    institution = call.caller.institution_id

    def work(db: Driver) -> str | None:
        kept = _original_reply(db, call, data.omsgid)
        if kept is None or kept[0] == UNDONE:
            return None
        answer = json.loads(kept[1])["output"]
        mdtrt_id = str((answer.get("data") or answer.get("result"))["mdtrt_id"])
        db.commit([visits.status_write(institution_id=institution, mdtrt_id=mdtrt_id, status="cancelled")])
        return mdtrt_id

    mdtrt_id = await _undoing(call, work)
    if mdtrt_id is None:
        return nhsa.stored_reply(done, [f"no visit was registered by message {data.omsgid}; none will be"])
    return nhsa.stored_reply({**done, "mdtrt_id": mdtrt_id}, [f"visit {mdtrt_id} cancelled"])


async def _unupload(call: Call, data: RecallData, done: dict[str, Any]) -> bytes:
    """2601 of a 2204 / 2301 fee detail upload: the rows it stored are cancelled, as 2205/2302 would
    (refused once the visit is settled); a message that never arrived is marked so it never stores."""
    institution, person = call.caller.institution_id, data.psn_no
    if not person:
        raise InputError("input.data.psn_no", "the person (psn_no) whose fee details the message uploaded is required")

    def work(db: Driver) -> list[str] | None:
        kept = _original_reply(db, call, data.omsgid)
        if kept is None or kept[0] == UNDONE:
            return None
        serials = {str(r["feedetl_sn"]) for r in json.loads(kept[1])["output"]["result"]}
        rows = details.uploaded(db, institution_id=institution, person_id=person, serials=serials)
        for mdtrt_id in sorted({r["mdtrt_id"] for r in rows}):
            if queries.standing_of_claim(db, institution_id=institution, claim_id=mdtrt_id) is not None:
                raise InputError("input.data.omsgid", f"visit {mdtrt_id} is settled: reverse the settlement first")
        db.commit([details.cancel_write(institution_id=institution, mdtrt_id=r["mdtrt_id"], feedetl_sn=r["feedetl_sn"])
                   for r in rows])  # fmt: skip
        return [r["feedetl_sn"] for r in rows]

    cancelled = await _undoing(call, work)
    if cancelled is None:
        return nhsa.stored_reply(done, [f"no fee details were uploaded by message {data.omsgid}; none will be"])
    return nhsa.stored_reply({**done, "feedetl_sn": cancelled}, [f"{len(cancelled)} fee detail(s) cancelled"])


class PersonQuery(BaseModel):
    """1101 ``input.data``: a person by ID number (``certno``, or ``mdtrt_cert_no`` with 凭证类型 02),
    or by ``psn_no``."""

    model_config = ConfigDict(extra="ignore")

    mdtrt_cert_type: Annotated[str, Field(max_length=3)] | None = None
    mdtrt_cert_no: Annotated[str, Field(max_length=50)] | None = None
    certno: Annotated[str, Field(max_length=50)] | None = None
    psn_no: Text | None = None
    begntime: nhsa.Moment = None


def _person(db: Driver, data: PersonQuery) -> dict[str, Any]:
    if data.psn_no:
        found = queries.person(db, person_id=data.psn_no)
        if found is None:
            raise InputError("input.data.psn_no", f"person {data.psn_no} is not registered")
        return found
    number = data.certno or (data.mdtrt_cert_no if data.mdtrt_cert_type in (None, "02") else None)
    if not number:
        raise InputError("input.data.certno", "give certno (身份证号); 电子凭证 and 社保卡 are not read here")
    persons = queries.persons_by_id_number(db, id_number=number)
    if len(persons) != 1:
        raise InputError("input.data.certno", "no registered person with this ID number" if not persons
                         else "several persons registered with this ID number")  # fmt: skip
    return persons[0]


def _idetinfo(identities: list[dict[str, Any]], call: Call) -> list[dict[str, Any]]:
    """A person's standing relief identities under the policy's ``psn_idet_type`` codes."""
    policy = call.policy.policy
    codes = policy.identity_codes.codes if policy.identity_codes else {}
    code_of = {str(category): code for code, category in reversed(codes.items())}
    names = Names(policy)
    return [
        {
            "psn_idet_type": code_of.get(i["category"], i["category"]),
            "psn_type_lv": "",
            "memo": names.category(i["category"]),
            "begntime": f"{i['valid_from']} 00:00:00",
            "endtime": f"{i['valid_to']} 23:59:59" if i["valid_to"] else None,
        }
        for i in identities
        if i["revoked_at"] is None
    ]


async def person_info(call: Call) -> bytes:
    """1101 人员信息获取: ``baseinfo``, ``insuinfo`` and ``idetinfo`` from the registry."""
    if not ({"persons", "read:all", "settle"} & call.caller.scopes):
        raise Problem(403, "forbidden", "this key may not read persons")
    data: PersonQuery = parse(PersonQuery, data_of(call.envelope), "input.data")

    def work(db: Driver) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        person = _person(db, data)
        return person, queries.identities(db, person_id=person["person_id"])

    person, identities = await call.read(work)
    on = desk.today(call.policy)
    base = {"psn_no": person["person_id"], "psn_cert_type": "01", "certno": person["id_number"],
            "psn_name": person["name"], "naty": "", **nhsa_output.id_number_facts(person["id_number"], on)}  # fmt: skip
    insured = {"insutype": call.insutype, "psn_type": "", "balc": 0.0, "psn_insu_stas": "1", "cvlserv_flag": "0",
               "insuplc_admdvs": call.envelope.insuplc_admdvs or "", "emp_name": ""}  # fmt: skip
    return nhsa.stored_reply({"baseinfo": base, "insuinfo": [insured], "idetinfo": _idetinfo(identities, call)})
