"""The national platform's interface shape (《医疗保障信息平台定点医药机构接口规范》), mapped onto the service.

Request envelope (``domain.md`` §4.2): ``infno, msgid, mdtrtarea_admvs, insuplc_admdvs,
recer_sys_code, infver, opter_type, opter, opter_name, inf_time, fixmedins_code, fixmedins_name,
sign_no, input``; the platform's other envelope fields are accepted and ignored. Response envelope:
``infcode`` (0 success, -1 failure), ``inf_refmsgid`` (our division code + time + serial),
``refmsg_time``, ``respond_time``, ``err_msg``, ``warn_msg``, ``output``.

Settlement input (2206/2207/2303/2304, ``input.data``, §4.3) becomes a native claim: ``mdtrt_id``
(``mdtrt_id|chrg_bchno`` when a charge batch is given) is the claim id, ``psn_no`` the person.
What the platform keeps elsewhere comes in the input as local extensions: ``hosp_lv``
(hospital level 1–3), ``dise_codg`` (ICD-10), ``setl_time`` (else the envelope's
``inf_time``), and ``exp_content`` (a JSON object or string: ``relief_category``,
``valid_from``, ``valid_to``, ``accident``, ``hosp_lv``). Relief identities
come as ``idetinfo`` records (``psn_idet_type``, ``begntime``, ``endtime``) whose codes the
region's policy maps to categories (``identity_codes``).

Output ``setlinfo`` (§4.4) is filled from the settlement; ``setldetail`` has one row per layer
with the layer's ``fund_pay_type`` from the policy file. Money is a JSON number with at most two
decimals, exact to the fen.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from api.schemas import ClaimIn, IdentityIn, SettlementOut, Text, Yuan
from tiers.codes import Category, MedType
from tiers.schema import Policy

CHINA = ZoneInfo("Asia/Shanghai")
SETTLING = {"2206": "11", "2207": "11", "2303": "21", "2304": "21"}
"""Pre-settlement and settlement transactions → the visit type they settle by default."""
OUTPUT_FIELD = {"hifp_pay": "hifp_pay", "hifmi_pay": "hifmi_pay", "maf_pay": "maf_pay", "supp_pay": "oth_pay"}
"""Engine output column → ``setlinfo`` field (the supplementary layer lands in 其他支出 ``oth_pay``)."""
ZERO_FIELDS = ("cvlserv_pay", "hifes_pay", "hifob_pay", "acct_pay", "hosp_part_amt", "acct_mulaid_pay", "balc")


class InputError(ValueError):
    """Input the transaction cannot use; ``param`` is its path in the envelope."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param


class Envelope(BaseModel):
    """The request envelope; fields the platform sends that the service does not use are ignored."""

    model_config = ConfigDict(extra="ignore")

    infno: Annotated[str, Field(pattern=r"^[0-9]{4}$")]
    msgid: Annotated[str, Field(min_length=1, max_length=30)]
    mdtrtarea_admvs: Annotated[str, Field(max_length=6)] = ""
    insuplc_admdvs: Annotated[str, Field(max_length=6)] = ""
    fixmedins_code: Annotated[str, Field(min_length=1, max_length=30)]
    inf_time: datetime | None = None
    input: dict[str, Any] = Field(default_factory=dict)


def _json_object(raw: Any) -> Any:
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc.msg}") from exc
    return raw or {}


class Extension(BaseModel):
    """``exp_content``: the local extension object."""

    model_config = ConfigDict(extra="ignore")

    relief_category: Category | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    accident: Literal["0", "1", 0, 1, True, False] = "0"
    hosp_lv: Literal["1", "2", "3", 1, 2, 3] | None = None


class IdetInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    psn_idet_type: Annotated[str, Field(min_length=1, max_length=6)]
    begntime: datetime | date
    endtime: datetime | date | None = None


class SettleData(BaseModel):
    """``input.data`` of 2206/2207/2303/2304."""

    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    mdtrt_id: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[^|\x00-\x1f]+$")]
    chrg_bchno: Annotated[str, Field(max_length=30, pattern=r"^[^|\x00-\x1f]*$")] | None = None
    med_type: MedType | None = None
    insutype: Annotated[str, Field(max_length=6)] | None = None
    medfee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan = Decimal(0)
    overlmt_selfpay: Yuan = Decimal(0)
    preselfpay_amt: Yuan = Decimal(0)
    inscp_scp_amt: Yuan | None = None
    hosp_lv: Literal["1", "2", "3", 1, 2, 3] | None = None
    dise_codg: Annotated[str, Field(max_length=16, pattern=r"^[0-9A-Za-z.]*$")] = ""
    setl_time: datetime | None = None
    exp_content: Annotated[Extension, BeforeValidator(_json_object)] = Extension()
    idetinfo: list[IdetInfo] = Field(default_factory=list, max_length=20)


def parse(model: type[BaseModel], raw: Any, where: str) -> Any:
    """Validate ``raw`` as ``model``; an :class:`InputError` names the first bad field's path."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join([where, *(str(p) for p in first["loc"])]).strip(".")
        raise InputError(path, first["msg"].removeprefix("Value error, ")) from exc


def data_of(envelope: Envelope) -> dict[str, Any]:
    data = envelope.input.get("data", envelope.input)
    if not isinstance(data, dict):
        raise InputError("input.data", "expected an object")
    return data


def claim_of(envelope: Envelope, data: SettleData) -> ClaimIn:
    """The native claim of a settlement transaction."""
    level = data.hosp_lv or data.exp_content.hosp_lv
    if level is None:
        raise InputError("input.data.hosp_lv", "hospital level (1–3) is required: hosp_lv or exp_content.hosp_lv")
    moment = data.setl_time or envelope.inf_time
    if moment is None:
        raise InputError("input.data.setl_time", "no settlement time: give setl_time or the envelope's inf_time")
    claim_id = data.mdtrt_id if not data.chrg_bchno else f"{data.mdtrt_id}|{data.chrg_bchno}"
    claim: ClaimIn = parse(
        ClaimIn,
        {
            "claim_id": claim_id,
            "person_id": data.psn_no,
            "med_type": data.med_type or SETTLING[envelope.infno],
            "hospital_level": int(level),
            "settle_date": moment.date(),
            "diagnosis": data.dise_codg,
            "accident": str(data.exp_content.accident) in ("1", "True"),
            "medfee_sumamt": data.medfee_sumamt,
            "fulamt_ownpay_amt": data.fulamt_ownpay_amt,
            "overlmt_selfpay": data.overlmt_selfpay,
            "preselfpay_amt": data.preselfpay_amt,
        },
        "input.data",
    )
    if data.inscp_scp_amt is not None:
        expected = data.medfee_sumamt - data.fulamt_ownpay_amt - data.overlmt_selfpay - data.preselfpay_amt
        if data.inscp_scp_amt != expected:
            raise InputError(
                "input.data.inscp_scp_amt",
                f"{data.inscp_scp_amt} ≠ medfee_sumamt − the three self-pay parts ({expected})",
            )
    return claim


def identities_of(data: SettleData, policy: Policy) -> list[IdentityIn]:
    """Relief identities carried by the input: ``idetinfo`` codes (the policy's table) and ``exp_content``."""
    codes = policy.identity_codes.codes if policy.identity_codes else {}
    found = []
    for i, record in enumerate(data.idetinfo):
        if record.psn_idet_type not in codes:
            raise InputError(
                f"input.data.idetinfo.{i}.psn_idet_type", f"unknown code {record.psn_idet_type!r} in policy {policy.id}"
            )
        found.append(
            IdentityIn(
                category=codes[record.psn_idet_type],
                valid_from=_day(record.begntime),
                valid_to=_day(record.endtime),
                source="nhsa idetinfo",
            )
        )
    extension = data.exp_content
    if extension.relief_category is not None:
        if extension.valid_from is None:
            raise InputError("input.data.exp_content.valid_from", "relief_category needs valid_from")
        found.append(
            IdentityIn(
                category=extension.relief_category,
                valid_from=extension.valid_from,
                valid_to=extension.valid_to,
                source="nhsa exp_content",
            )
        )
    return found


def _day(moment: datetime | date | None) -> date | None:
    return moment.date() if isinstance(moment, datetime) else moment


def _ratio(paid: Decimal, base: Decimal) -> Decimal:
    return (paid / base).quantize(Decimal("0.0001")) if base > 0 else Decimal(0)


def setlinfo(out: SettlementOut, msgid: str | None, insutype: str) -> dict[str, Any]:
    """``setlinfo`` of a settlement (or its reversal, negative amounts)."""
    funds = {OUTPUT_FIELD[c]: getattr(out, c) for c in OUTPUT_FIELD}
    return {
        "setl_id": out.setl_id,
        "mdtrt_id": out.claim_id.partition("|")[0],
        "psn_no": out.person_id,
        "insutype": insutype,
        "setl_time": out.settle_date.isoformat() + " 00:00:00",
        "med_type": out.med_type,
        "medfee_sumamt": out.medfee_sumamt,
        "fulamt_ownpay_amt": out.fulamt_ownpay_amt,
        "overlmt_selfpay": out.overlmt_selfpay,
        "preselfpay_amt": out.preselfpay_amt,
        "inscp_scp_amt": out.inscp_scp_amt,
        "act_pay_dedc": out.act_pay_dedc,
        "pool_prop_selfpay": _ratio(abs(out.hifp_pay), abs(out.inscp_scp_amt) - abs(out.act_pay_dedc)),
        **funds,
        **dict.fromkeys(ZERO_FIELDS, Decimal(0)),
        "fund_pay_sumamt": out.fund_pay_sumamt,
        "psn_part_amt": out.psn_part_amt,
        "psn_cash_pay": out.psn_part_amt,
        "medins_setl_id": msgid,
        "clr_type": out.med_type,
        "relief_category": out.category,
    }


def setldetail(out: SettlementOut) -> list[dict[str, Any]]:
    """One row per layer: its fund-type code (from the policy), base, payment, cap left (null: none)."""
    return [
        {
            "fund_pay_type": line.fund_pay_type,
            "fund_pay_type_name": line.layer,
            "inscp_scp_amt": line.base,
            "crt_payb_lmt_amt": line.cap_left,
            "fund_payamt": line.paid,
            "setl_proc_info": f"{line.rule}: {line.bands}",
        }
        for line in out.lines
    ]


def ref_msgid(envelope: Envelope, now: datetime) -> str:
    """Our reply id: division code (6) + time (14) + serial (10), stable for one msgid."""
    serial = int(hashlib.sha256(f"{envelope.fixmedins_code}\n{envelope.msgid}".encode()).hexdigest(), 16) % 10**10
    return f"{(envelope.mdtrtarea_admvs or '000000')[:6]:0>6}{now:%Y%m%d%H%M%S}{serial:010d}"


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # ≤ 15 significant digits: the float's shortest form is the exact yuan text
    if isinstance(value, dict):
        return {k: _number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value


def reply(envelope: Envelope | None, output: dict[str, Any] | None, error: str | None = None) -> dict[str, Any]:
    """The response envelope (``infcode`` 0 with ``output``, or -1 with ``err_msg``)."""
    now = datetime.now(CHINA)
    stamp = now.strftime("%Y%m%d%H%M%S%f")[:17]
    return {
        "infcode": 0 if error is None else -1,
        "inf_refmsgid": ref_msgid(envelope, now) if envelope else f"000000{now:%Y%m%d%H%M%S}0000000000",
        "refmsg_time": stamp,
        "respond_time": stamp,
        "err_msg": error,
        "warn_msg": None,
        "output": _number(output) if output is not None else {},
    }
