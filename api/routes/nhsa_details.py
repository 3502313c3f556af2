"""Fee details on ``POST /nhsa``: 2204 门诊 / 2301 住院 费用明细上传, 2205 / 2302 撤销, 5204 费用明细查询.

Rows come as real clients send them — ``input.feedetail`` a list (liwerAKM/YbRefund
``Plat/Models/MZJS/T2204.cs``, ``ZYJS/T2301.cs``; fengzaiqishi11/hsa-his ``InsureUnifiedPayInptBOImpl``,
which names the list codes ``med_list_code`` / ``medins_list_code`` and sends ``input.data`` beside
them, in batches of 100). Each row is classified against the region's catalogue
(:mod:`settlement.catalogue`) and answered per row as the platform does (``output.result``); a code
not in the catalogue is 全自费 and its ``memo`` says so. A visit's details cannot change once it is
settled (reverse first). A settlement without the bill's parts takes them from its visit's active
details (:func:`parts_from`); one that states them must agree with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from api import nhsa
from api.books import details, queries
from api.books.driver import Driver, Write
from api.nhsa import InputError, Moment, SettleData, data_of, parse
from api.routes.nhsa_visits import once, owned
from api.schemas import Text
from settlement.catalogue import PARTS, classify
from settlement.money import fen_of, round_half_up, yuan_number
from tiers.tables import RATIO_SCALE

if TYPE_CHECKING:
    from api.routes.nhsa import Call

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^|\x00-\x1f]+$")]
Signed = Annotated[Decimal, Field(ge=-(10**11), le=10**11, decimal_places=2)]


class FeeRow(BaseModel):
    """A ``feedetail`` row: what classifying and settling it read (other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    feedetl_sn: Id
    mdtrt_id: Annotated[str, Field(max_length=30)] | None = None
    psn_no: Text | None = None
    chrg_bchno: Annotated[str, Field(max_length=64)] = ""
    fee_ocur_time: Moment
    med_list_codg: Annotated[str, Field(max_length=64)] = ""
    medins_list_codg: Annotated[str, Field(max_length=64)] = ""
    det_item_fee_sumamt: Signed
    cnt: Annotated[Decimal, Field(ge=-(10**9), le=10**9, decimal_places=4)]
    pric: Annotated[Decimal, Field(ge=0, le=10**11, decimal_places=6)]


def _rows(call: Call) -> tuple[list[FeeRow], str, str]:
    """The message's rows, and the one visit and person they are of (from ``input.data`` or the rows)."""
    raw = call.envelope.input.get("feedetail")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise InputError("input.feedetail", "a list of fee detail rows is required")
    rows = [parse(FeeRow, row, f"input.feedetail.{i}") for i, row in enumerate(raw)]
    given = call.envelope.input.get("data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    visit = {str(v) for v in [data.get("mdtrt_id"), *(r.mdtrt_id for r in rows)] if v}
    person = {str(v) for v in [data.get("psn_no"), *(r.psn_no for r in rows)] if v}
    if len(visit) != 1 or len(person) != 1:
        raise InputError("input.feedetail", f"the rows must be of one visit and person (mdtrt_id {sorted(visit)})")
    for i, row in enumerate(rows):
        expected = round_half_up(np.int64(int(row.cnt * row.pric * 100 * RATIO_SCALE)))
        if abs(int(expected) - fen_of(row.det_item_fee_sumamt)) > 1:
            raise InputError(f"input.feedetail.{i}.det_item_fee_sumamt",
                             f"{row.det_item_fee_sumamt} ≠ cnt × pric ({row.cnt} × {row.pric})")  # fmt: skip
    return rows, visit.pop(), person.pop()


def _moment(row: FeeRow) -> datetime:
    if row.fee_ocur_time is None:  # required by the model: tolerant reading drops only "" and null
        raise InputError(f"input.feedetail.{row.feedetl_sn}.fee_ocur_time", "the fee's time is required")
    return row.fee_ocur_time


def _classified(db: Driver, rows: list[FeeRow]) -> pd.DataFrame:
    frame = pd.DataFrame({
        "list_code": [r.med_list_codg for r in rows],
        "day": pd.to_datetime([_moment(r).date() for r in rows]).astype("datetime64[s]"),
        "amount": np.array([fen_of(r.det_item_fee_sumamt) for r in rows], np.int64),
        "cnt4": np.array([int(r.cnt * RATIO_SCALE) for r in rows], np.int64),
    })  # fmt: skip
    return classify(frame, details.catalogue_of(db, frame["list_code"].tolist()))


def _answer(row: FeeRow, parts: Mapping[Any, Any]) -> dict[str, Any]:
    """A ``result`` row as the platform answers it."""
    money = {
        k: yuan_number(int(parts[k])) for k in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
    }
    uplmt = int(parts["uplmt"])
    flags = dict.fromkeys(("bas_medn_flag", "hi_nego_drug_flag", "chld_medc_flag", "list_sp_item_flag",
                           "lmt_used_flag", "drt_reim_flag"), "0")  # fmt: skip
    return {"feedetl_sn": row.feedetl_sn, "det_item_fee_sumamt": float(row.det_item_fee_sumamt), "cnt": float(row.cnt),
            "pric": float(row.pric), "pric_uplmt_amt": yuan_number(uplmt) if uplmt >= 0 else 0.0,
            "selfpay_prop": int(parts["selfpay"]) / RATIO_SCALE, **money, "chrgitm_lv": parts["chrgitm_lv"],
            "med_chrgitm_type": parts["med_chrgitm_type"], **flags,
            "memo": "" if parts["listed"] else "not in the medical-insurance catalogue: 全自费"}  # fmt: skip


def _not_settled(db: Driver, call: Call, mdtrt_id: str) -> None:
    institution = call.caller.institution_id
    if queries.standing_of_claim(db, institution_id=institution, claim_id=mdtrt_id) is not None:
        raise InputError("input.mdtrt_id", f"visit {mdtrt_id} is settled: reverse the settlement first")


async def upload(call: Call) -> bytes:
    """2204 / 2301: a visit's fee details, each classified, stored and answered."""
    call.caller.require("settle")
    rows, mdtrt_id, psn_no = _rows(call)

    def work(db: Driver) -> tuple[list[Write], bytes]:
        owned(db, call, mdtrt_id, psn_no)
        _not_settled(db, call, mdtrt_id)
        active = {d["feedetl_sn"] for d in details.details(db, institution_id=call.caller.institution_id,
                                                            mdtrt_id=mdtrt_id) if d["status"] == "active"}  # fmt: skip
        seen = [r.feedetl_sn for r in rows]
        again = sorted({sn for sn in seen if sn in active or seen.count(sn) > 1})
        if again:
            raise InputError("input.feedetail.feedetl_sn", f"already uploaded for visit {mdtrt_id}: {again[:5]}")
        parts = _classified(db, rows).to_dict("records")
        stored = [_stored(call, mdtrt_id, psn_no, row, part) for row, part in zip(rows, parts, strict=True)]
        reply = nhsa.stored_reply({"result": [_answer(r, p) for r, p in zip(rows, parts, strict=True)]})
        return details.detail_writes(stored), reply

    return await once(call, work)


def _stored(call: Call, mdtrt_id: str, psn_no: str, row: FeeRow, part: Mapping[Any, Any]) -> dict[str, Any]:
    money = {k: int(part[k]) for k in PARTS}
    return {"institution_id": call.caller.institution_id, "mdtrt_id": mdtrt_id, "feedetl_sn": row.feedetl_sn,
            "person_id": psn_no, "chrg_bchno": row.chrg_bchno, "list_code": row.med_list_codg,
            "medins_list_codg": row.medins_list_codg, "fee_ocur_time": _moment(row), "cnt": str(row.cnt),
            "pric": str(row.pric), "amount": fen_of(row.det_item_fee_sumamt), **money,
            "chrgitm_lv": str(part["chrgitm_lv"]), "selfpay": int(part["selfpay"]), "uplmt": int(part["uplmt"]),
            "med_chrgitm_type": str(part["med_chrgitm_type"])}  # fmt: skip


class CancelData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    setl_id: Annotated[str, Field(max_length=40)] = ""
    mdtrt_id: Annotated[str, Field(min_length=1, max_length=30)]
    psn_no: Text
    feedetl_sn: Annotated[str, Field(max_length=64)] = ""
    chrg_bchno: Annotated[str, Field(max_length=64)] = ""


async def cancel(call: Call) -> bytes:
    """2205 (a charge batch; ``0000`` or none: all) / 2302 (one row; ``0000``: all) 撤销."""
    call.caller.require("settle")
    data: CancelData = parse(CancelData, data_of(call.envelope), "input.data")
    one = data.feedetl_sn if data.feedetl_sn not in ("", "0000") else None
    batch = data.chrg_bchno if data.chrg_bchno not in ("", "0000") else None

    def work(db: Driver) -> tuple[list[Write], bytes]:
        owned(db, call, data.mdtrt_id, data.psn_no)
        _not_settled(db, call, data.mdtrt_id)
        write = details.cancel_write(institution_id=call.caller.institution_id, mdtrt_id=data.mdtrt_id,
                                     feedetl_sn=one, chrg_bchno=batch)  # fmt: skip
        return [write], nhsa.stored_reply({})

    return await once(call, work)


SUMMED = {"medfee_sumamt": "amount", "fulamt_ownpay_amt": "fulamt_ownpay_amt", "overlmt_selfpay": "overlmt_amt",
          "preselfpay_amt": "preselfpay_amt"}  # fmt: skip
"""A settlement's bill fields and the fee detail column each is the sum of."""


def parts_from(data: SettleData, rows: list[dict[str, Any]]) -> tuple[SettleData, list[str]]:
    """A settlement's data with its bill's parts from its visit's active details (those of its
    charge batch, when it names one): filled in when the message gives none, checked when it does."""
    mine = [r for r in rows if r["status"] == "active" and (not data.chrg_bchno or r["chrg_bchno"] == data.chrg_bchno)]
    if not mine:
        return data, []
    sums = {field: sum(int(r[column]) for r in mine) for field, column in SUMMED.items()}
    if fen_of(data.medfee_sumamt) != sums["medfee_sumamt"]:
        detail = f"{data.medfee_sumamt} ≠ the visit's {len(mine)} fee details ({Decimal(sums['medfee_sumamt']) / 100})"
        raise InputError("input.data.medfee_sumamt", detail)
    if nhsa.parts_given(data):
        for field in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt"):
            if fen_of(getattr(data, field)) != sums[field]:
                detail = f"{getattr(data, field)} ≠ the visit's fee details ({Decimal(sums[field]) / 100})"
                raise InputError(f"input.data.{field}", detail)
        return data, []
    update = {f: Decimal(sums[f]) / 100 for f in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")}
    note = f"the bill's parts are the sum of the visit's {len(mine)} fee details (2204/2301)"
    return data.model_copy(update={**update, "inscp_scp_amt": None}), [note]


async def query(call: Call) -> bytes:
    """5204 费用明细查询: a settlement's fee details (its visit's, as classified)."""
    data: CancelData = parse(CancelData, data_of(call.envelope), "input.data")

    def work(db: Driver) -> bytes:
        settled = queries.settlement(db, setl_id=data.setl_id) if data.setl_id else None
        if data.setl_id and (settled is None or str(settled["claim_id"]).split("|")[0] != data.mdtrt_id
                             or settled["institution_id"] != call.caller.institution_id):  # fmt: skip
            raise InputError("input.data.setl_id", f"no settlement {data.setl_id} of visit {data.mdtrt_id}")
        rows = details.details(db, institution_id=call.caller.institution_id, mdtrt_id=data.mdtrt_id)
        out = [
            {"feedetl_sn": r["feedetl_sn"], "mdtrt_id": r["mdtrt_id"], "psn_no": r["person_id"],
             "chrg_bchno": r["chrg_bchno"], "fee_ocur_time": f"{r['fee_ocur_time']:%Y-%m-%d %H:%M:%S}",
             "med_list_codg": r["list_code"], "medins_list_codg": r["medins_list_codg"], "cnt": float(r["cnt"]),
             "pric": float(r["pric"]), "det_item_fee_sumamt": yuan_number(int(r["amount"])),
             **{k: yuan_number(int(r[k])) for k in PARTS},
             "chrgitm_lv": r["chrgitm_lv"], "vali_flag": "1" if r["status"] == "active" else "0"}
            for r in rows
        ]  # fmt: skip
        return nhsa.stored_reply({"feedetail": out})

    result: bytes = await call.read(work)
    return result


HANDLERS = {"2204": upload, "2301": upload, "2205": cancel, "2302": cancel, "5204": query}
"""The fee detail transactions, for :data:`api.routes.nhsa.HANDLERS`."""
