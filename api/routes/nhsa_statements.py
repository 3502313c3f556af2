"""3201 对总账 and 3202 对明细账 on ``POST /nhsa``: the hospital's totals of a period compared with its
settlements and reversals (by ``clr_type``, ``insutype`` and ``refd_setl_flag`` as the
specification filters them), the funds' adjustments of those settlements beside them, and the
detail file at ``GET /nhsa/files/{file_qury_no}``."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api import nhsa, nhsa_output
from api.books import export
from api.books.driver import Driver
from api.deps import CallerDep, PolicyDep, ReaderDep
from api.errors import Problem
from api.nhsa import InputError, data_of, parse
from api.routes import nhsa_files
from api.schemas import SignedYuan
from settlement.money import fen_of, fen_to_yuan_text, yuan_number
from tiers.tables import CompiledPolicy

if TYPE_CHECKING:
    from api.routes.nhsa import Call

router = APIRouter(tags=["nhsa"])


class StatementData(BaseModel):
    """3201/3202: the hospital's totals of a period, to be compared with ours."""

    model_config = ConfigDict(extra="ignore")

    stmt_begndate: date
    stmt_enddate: date
    insutype: str | None = None
    clr_type: Annotated[str, Field(max_length=6)] | None = None
    """清算类别: 11 门诊 (every visit type that does not settle as inpatient), 21 住院."""
    setl_optins: str | None = None
    refd_setl_flag: Literal["0", "1"] | None = None
    medfee_sumamt: SignedYuan
    fund_pay_sumamt: SignedYuan
    fixmedins_setl_cnt: Annotated[int, Field(ge=0)]
    file_qury_no: Annotated[str, Field(max_length=40)] | None = None
    """3202: the hospital's detail file, uploaded with 9101."""


def _period_books(
    db: Driver, institution: str, data: StatementData, policy: CompiledPolicy, *, adjustments: bool = False
) -> pd.DataFrame:
    """The institution's settlement and reversal rows of a period (only one kind when the flag is
    given, only one clearing type when ``clr_type`` is), and its adjustment rows when asked (their
    ``refd_setl_flag`` is 0)."""
    insutype, settles_as = policy.policy.insutype, policy.settles_as
    start, end = data.stmt_begndate, data.stmt_enddate
    frame = export.settlements(db, start=start, end=end, insutype=insutype, adjustments=adjustments)
    mine = frame[frame["institution_id"] == institution]
    if data.insutype:
        mine = mine[mine["insutype"] == data.insutype]
    if data.refd_setl_flag is not None:
        mine = mine[mine["refd_setl_flag"] == int(data.refd_setl_flag)]
    if data.clr_type is not None:
        clearing = {code: nhsa_output.clearing_type(code, settles_as) for code in mine["med_type"].unique()}
        mine = mine[mine["med_type"].map(clearing) == data.clr_type]
    return mine


async def _compare(call: Call) -> tuple[StatementData, dict[str, Any]]:
    data: StatementData = parse(StatementData, data_of(call.envelope), "input.data")
    if data.stmt_enddate < data.stmt_begndate:
        raise InputError("input.data.stmt_enddate", "before stmt_begndate")
    books: pd.DataFrame = await call.read(lambda db: _period_books(db, call.caller.institution_id, data, call.policy))
    institution = call.caller.institution_id
    adjusted = await call.read(
        lambda db: export.adjustment_totals(
            db, institution=institution, start=data.stmt_begndate, end=data.stmt_enddate
        )
    )
    ours = {"medfee_sumamt": int(books["medfee_sumamt"].sum()), "fund_pay_sumamt": int(books["fund_pay_sumamt"].sum())}
    theirs = {k: fen_of(getattr(data, k)) for k in ours}
    differ = [f"{k}: ours {yuan_number(ours[k])}, yours {yuan_number(theirs[k])}" for k in ours if ours[k] != theirs[k]]
    if len(books) != data.fixmedins_setl_cnt:
        differ.append(f"fixmedins_setl_cnt: ours {len(books)}, yours {data.fixmedins_setl_cnt}")
    info = {
        "setl_optins": data.setl_optins or call.envelope.insuplc_admdvs,
        "stmt_rslt": "1" if differ else "0",
        "stmt_rslt_dscr": "; ".join(differ) if differ else "平 (balanced)",
    }
    totals = {**{k: yuan_number(v) for k, v in ours.items()}, "acct_pay": 0.0, "fixmedins_setl_cnt": len(books)}
    return data, {"stmtinfo": info, "totals": totals, "adjustments": {k: yuan_number(v) for k, v in adjusted.items()}}


async def totals(call: Call) -> bytes:
    return nhsa.stored_reply((await _compare(call))[1])


async def detail(call: Call) -> bytes:
    """3202: with the hospital's rows (inline or a 9101 upload), row by row — the result file kept
    for 9102; without, the period's detail file of the books (``GET /nhsa/files/…``)."""
    data, compared = await _compare(call)
    theirs = await nhsa_files.hospital_rows(call, data.file_qury_no)
    if theirs is None:
        number = f"{data.stmt_begndate:%Y%m%d}{data.stmt_enddate:%Y%m%d}{data.refd_setl_flag or 'A'}"
        file = {"file_qury_no": number, "filename": f"3202-{number}.csv", "dld_endtime": None}
        return nhsa.stored_reply({**compared, "fileinfo": file})
    books = await call.read(lambda db: _period_books(db, call.caller.institution_id, data, call.policy))
    result = nhsa_files.compare(theirs, books)
    name = f"3202-{data.stmt_begndate:%Y%m%d}-{data.stmt_enddate:%Y%m%d}"
    number = await nhsa_files.keep(call, nhsa_files.result_file(result, name), f"{name}.zip")
    rows = nhsa_files.counts(result)
    if rows["rows_1"] or rows["rows_2"] or rows["rows_3"]:
        told = compared["stmtinfo"]
        compared["stmtinfo"] = {**told, "stmt_rslt": "1", "stmt_rslt_dscr": f"{told['stmt_rslt_dscr']}; rows: {rows}"}
    file = {"file_qury_no": number, "filename": f"{name}.zip", "dld_endtime": None}
    return nhsa.stored_reply({**compared, "fileinfo": file, "rows": rows})


FILE_COLUMNS = [
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "msgid",
    "stmt_rslt",
    "refd_setl_flag",
    "memo",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
]
"""The 3202 result rows' fields, in the interface's order (domain.md §4.6)."""


@router.get("/nhsa/files/{file_qury_no}", response_class=Response, summary="The detail file of a 3202 (CSV, yuan)")
def detail_file(
    file_qury_no: Annotated[str, Path(pattern=r"^[0-9]{16}[01A]$")], db: ReaderDep, caller: CallerDep, policy: PolicyDep
) -> Response:
    """The period's settlement and reversal rows, and each re-settlement's adjustment of a
    settlement as a row of its own (``setl_id`` ``<run_id>/<setl_id>``, ``memo`` naming the
    settlement, no 医疗费总额), so the file's ``fund_pay_sumamt`` totals what the funds paid."""
    try:
        begin, end = date.fromisoformat(_iso(file_qury_no[:8])), date.fromisoformat(_iso(file_qury_no[8:16]))
    except ValueError as exc:
        raise Problem(404, "file_not_found", f"no detail file {file_qury_no}", "file_qury_no") from exc
    flag = None if file_qury_no[16] == "A" else file_qury_no[16]
    period = StatementData(stmt_begndate=begin, stmt_enddate=end, refd_setl_flag=flag, medfee_sumamt=0,
                           fund_pay_sumamt=0, fixmedins_setl_cnt=0)  # fmt: skip
    frame = _period_books(db, caller.institution_id, period, policy, adjustments=True)
    adjusted = frame["kind"] == "adjustment"
    rows = pd.DataFrame(
        {
            "psn_no": frame["person_id"],
            "mdtrt_id": frame["claim_id"].str.split("|", n=1).str[0],  # (partition fails on no rows)
            "setl_id": frame["setl_id"],
            "msgid": "",
            "stmt_rslt": "0",
            "refd_setl_flag": frame["refd_setl_flag"],
            "memo": ("adjustment of " + frame["adjusts"].astype(str)).where(adjusted, ""),
            "medfee_sumamt": fen_to_yuan_text(frame["medfee_sumamt"].to_numpy("int64")),
            "fund_pay_sumamt": fen_to_yuan_text(frame["fund_pay_sumamt"].to_numpy("int64")),
            "acct_pay": "0.00",
        },
        columns=FILE_COLUMNS,
    )
    return Response(export.csv_text(rows), media_type="text/csv; charset=utf-8")


def _iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"
