"""The national platform's interface shape (《医疗保障信息平台定点医药机构接口规范》): envelope and
settlement messages in, the desk's results out.

Request envelope (``domain.md`` §4.2): ``infno, msgid, mdtrtarea_admvs, insuplc_admdvs,
recer_sys_code, infver, opter_type, opter, opter_name, inf_time, fixmedins_code, fixmedins_name,
sign_no, input``; the platform's other envelope fields are accepted and ignored. Response envelope:
``infcode`` (0 success, -1 failure), ``inf_refmsgid`` (our division code + time + serial),
``refmsg_time``, ``respond_time``, ``err_msg``, ``warn_msg``, ``output``.

Settlement input (2206/2207/2303/2304, ``input.data``, §4.3) becomes a native claim: ``mdtrt_id``
(``mdtrt_id|chrg_bchno`` when a charge batch is given) is the claim id, ``psn_no`` the person
(registered on first sight, without a relief identity). What the platform keeps elsewhere comes in
the input as local extensions: ``hosp_lv`` (hospital tier: 1–3 unless the policy declares others),
``dise_codg`` (ICD-10), ``setl_time`` (else the envelope's ``inf_time``), and ``exp_content`` (a
JSON object or string: ``accident``, ``hosp_lv``, ``relief_category``, ``referral``, ``emergency``,
``out_of_area``, ``out_of_province`` — these two by default from the envelope: 异地 when its 就医地
``mdtrtarea_admvs`` and 参保地 ``insuplc_admdvs`` differ, 跨省 when their first two digits do), and
``begntime`` (the admission). Relief identities sent with a claim (``idetinfo`` records whose
``psn_idet_type`` codes the policy maps, ``identity_codes``; or ``exp_content.relief_category``) are
checked against the registry and never change it: a difference is reported in ``warn_msg``. Times
are ``yyyy-MM-dd HH:mm:ss`` (or a date ``yyyy-MM-dd``), as the specification writes them; anything
else is refused, never guessed.

The answers (``setlinfo``, ``setldetail``) are :mod:`api.nhsa_output`'s.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import to_json

from api.jsonbody import JsonBodyError, read_json
from api.schemas import ClaimIn, Text, VisitCode, Yuan
from settlement.money import fen_of, yuan_number
from tiers.schema import Policy

CHINA = ZoneInfo("Asia/Shanghai")
SETTLING = {"2206": "11", "2207": "11", "2303": "21", "2304": "21"}
"""Pre-settlement and settlement transactions → the visit type they settle by default."""
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
_PADDED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?\Z")


HospitalTierCode = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
                             Field(pattern=r"^[1-9][0-9]?$")]  # fmt: skip
"""``hosp_lv``: a hospital tier the policy declares (1–3 by default), as text or a number."""


class InputError(ValueError):
    """Input the transaction cannot use; ``param`` is its path in the envelope."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param


def _moment(raw: Any) -> Any:
    """A time as the specification writes it (``yyyy-MM-dd HH:mm:ss`` or ``yyyy-MM-dd``), or None."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):  # built by the service itself (2001's probe)
        return raw
    if isinstance(raw, str):
        if _PADDED.match(raw):  # the usual spelling, read without strptime's locale-aware machinery
            with suppress(ValueError):  # 2025-02-30: refused below, in the same words
                return datetime.fromisoformat(raw)
        for form in TIME_FORMATS:
            try:
                return datetime.strptime(raw, form)
            except ValueError:
                continue
    raise ValueError(f"{raw!r} is not a time yyyy-MM-dd HH:mm:ss (or a date yyyy-MM-dd)")


Moment = Annotated[datetime | None, BeforeValidator(_moment)]


ALIASES = {"medins_code": "fixmedins_code", "expcontent": "exp_content", "med_list_code": "med_list_codg",
           "medins_list_code": "medins_list_codg"}  # fmt: skip
"""Field names as real clients spell them (after lower-casing: ``REFD_SETL_FLAG``, ``expContent``):
``medins_code`` for ``fixmedins_code`` (fengzaiqishi11/hsa-his ``InsureCommonUtil``); ``med_list_code``
and ``medins_list_code`` for the fee detail's list codes (hsa-his ``InsureUnifiedPayInptBOImpl``, 2301)."""


def tolerant(raw: dict[str, Any]) -> dict[str, Any]:
    """An object as real clients send it, read as the specification means it: optional fields sent
    as ``""`` or ``null`` are absent; names are matched in lower case and through :data:`ALIASES`
    (the specification's own spelling wins when both are sent)."""
    out: dict[str, Any] = {}
    respelled = []
    for key, value in raw.items():
        if value is None or value == "":
            continue
        name = str(key).lower()
        if name == key and name not in ALIASES:
            out[name] = value
        else:
            respelled.append((ALIASES.get(name, name), value))
    for name, value in respelled:
        out.setdefault(name, value)
    return out


def _json_object(raw: Any) -> Any:
    """A JSON object, or a JSON string holding one (hsa-his sends ``input`` as a string; YbRefund
    ``expContent``); a list of objects is read as one (their fields merged)."""
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = read_json(raw)  # as the body itself: exact decimals, duplicated keys refused
        except JsonBodyError as exc:
            raise ValueError(f"not a JSON object: {exc.reason}") from exc
    if isinstance(raw, list) and all(isinstance(item, dict) for item in raw):
        return tolerant({k: v for item in raw for k, v in item.items()})
    return tolerant(raw) if isinstance(raw, dict) else raw or {}


class Envelope(BaseModel):
    """The request envelope; fields the platform sends that the service does not use are ignored.
    ``infno`` may carry a provincial revision letter (``2207A``: the same data, :attr:`transaction`);
    ``fixmedins_code`` defaults to the API key's institution; ``inf_time`` to the service's now."""

    model_config = ConfigDict(extra="ignore")

    infno: Annotated[str, Field(pattern=r"^[0-9]{4}A?$")]
    msgid: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[^\x00-\x1f]+$")]
    mdtrtarea_admvs: Annotated[str, Field(max_length=6)] = ""
    insuplc_admdvs: Annotated[str, Field(max_length=6)] = ""
    fixmedins_code: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    inf_time: Moment = None
    input: Annotated[dict[str, Any], BeforeValidator(_json_object)] = Field(default_factory=dict)

    @property
    def transaction(self) -> str:
        """The transaction, without a provincial revision letter."""
        return self.infno[:4]


class Extension(BaseModel):
    """``exp_content``: the local extension object."""

    model_config = ConfigDict(extra="ignore")

    relief_category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    accident: Literal["0", "1", 0, 1, True, False] = "0"
    hosp_lv: HospitalTierCode | None = None
    out_of_area: Literal["0", "1", 0, 1, True, False] | None = None
    out_of_province: Literal["0", "1", 0, 1, True, False] | None = None
    referral: Literal["0", "1", 0, 1, True, False] = "0"
    emergency: Literal["0", "1", 0, 1, True, False] = "0"


def _yes(value: object) -> bool:
    return str(value) in ("1", "True")


class IdetInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    psn_idet_type: Annotated[str, Field(min_length=1, max_length=6)]
    begntime: Moment = None
    endtime: Moment = None


class SettleData(BaseModel):
    """``input.data`` of 2206/2207/2303/2304."""

    model_config = ConfigDict(extra="ignore")

    psn_no: Text
    mdtrt_id: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[^|\x00-\x1f]+$")]
    chrg_bchno: Annotated[str, Field(max_length=30, pattern=r"^[^|\x00-\x1f]*$")] | None = None
    med_type: VisitCode | None = None
    insutype: Annotated[str, Field(max_length=6)] | None = None
    medfee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan = Decimal(0)
    overlmt_selfpay: Yuan = Decimal(0)
    preselfpay_amt: Yuan = Decimal(0)
    inscp_scp_amt: Yuan | None = None
    hosp_lv: HospitalTierCode | None = None
    dise_codg: Annotated[str, Field(max_length=16, pattern=r"^[0-9A-Za-z.]*$")] = ""
    setl_time: Moment = None
    begntime: Moment = None
    """入院时间 (the admission, as 2401 names it), when a client sends it with the settlement."""
    psn_name: Annotated[str, Field(max_length=50)] = ""
    certno: Annotated[str, Field(max_length=50)] = ""
    mdtrt_cert_type: Annotated[str, Field(max_length=3)] = ""
    medins_setl_id: Annotated[str, Field(max_length=30)] | None = None
    exp_content: Annotated[Extension, BeforeValidator(_json_object)] = Field(default_factory=Extension)
    idetinfo: list[IdetInfo] = Field(default_factory=list, max_length=20)


def parse(model: type[BaseModel], raw: Any, where: str) -> Any:
    """Validate ``raw`` as ``model``; an :class:`InputError` names the first bad field's path."""
    try:
        return model.model_validate(tolerant(raw) if isinstance(raw, dict) else raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join([where, *(str(p) for p in first["loc"])]).strip(".")
        raise InputError(path, first["msg"].removeprefix("Value error, ")) from exc


def data_of(envelope: Envelope) -> dict[str, Any]:
    """The message's ``input.data`` — or its ``mdtrtinfo`` where a region's variant puts a settlement
    there (Guangzhou's 2207/2304: liutao2019/IBORN_HIS_ALL ``RequestGzsiModel2207``) — or ``input``
    itself (2601 from clients that send its fields bare)."""
    given = envelope.input
    data = given["data"] if "data" in given else given.get("mdtrtinfo", given)
    if not isinstance(data, dict):
        raise InputError("input.data", "expected an object")
    return data


def _away(envelope: Envelope, given: object, digits: int) -> bool:
    """异地 (``digits`` 6: another 统筹区) or 跨省 (2: another province): as ``exp_content`` says when
    it does, else whether the envelope's 就医地 (``mdtrtarea_admvs``) and 参保地 (``insuplc_admdvs``),
    both given, differ in their first ``digits`` digits."""
    if given is not None:
        return _yes(given)
    where, insured = envelope.mdtrtarea_admvs, envelope.insuplc_admdvs
    return bool(where and insured and where[:digits] != insured[:digits])


def parts_given(data: SettleData) -> bool:
    """Whether the message gives the bill's parts: absent, or all zero as some clients send them
    before the platform has classified the fee details, they were not computed."""
    return any((data.fulamt_ownpay_amt, data.overlmt_selfpay, data.preselfpay_amt, data.inscp_scp_amt or 0))


def parts_notes(data: SettleData) -> list[str]:
    """What the hospital should know of the bill's parts: none given settles the whole bill as
    in-policy (符合政策范围)."""
    if parts_given(data) or not data.medfee_sumamt:
        return []
    return [f"no bill parts given (全自费, 超限价, 先行自付, 符合范围): all {data.medfee_sumamt} settled as in-policy"]


def claim_moment(envelope: Envelope, data: SettleData, now: datetime) -> datetime:
    """When a settlement happens: ``setl_time``, else the envelope's ``inf_time``, else ``now``."""
    return data.setl_time or envelope.inf_time or now


def claim_id_of(data: SettleData) -> str:
    """The native claim id of a settlement: its visit (``mdtrt_id``), with its charge batch if any."""
    return data.mdtrt_id if not data.chrg_bchno else f"{data.mdtrt_id}|{data.chrg_bchno}"


def claim_of(envelope: Envelope, data: SettleData, level: int, now: datetime) -> ClaimIn:
    """The native claim of a settlement transaction at hospital tier ``level`` (the registry's,
    :func:`api.institutions.claim_tier`), its time from the message or ``now``."""
    moment = claim_moment(envelope, data, now)
    claim_id = claim_id_of(data)
    # every field was validated by SettleData with the claim's own types and limits (ids, visit
    # type, level, ICD-10 code, amounts): the native claim is built without validating it again
    claim = ClaimIn.model_construct(
        claim_id=claim_id,
        person_id=data.psn_no,
        med_type=data.med_type or SETTLING[envelope.transaction],
        hospital_level=level,
        settle_date=moment.date(),
        admission_date=data.begntime.date() if data.begntime else None,
        diagnosis=data.dise_codg,
        accident=_yes(data.exp_content.accident),
        out_of_area=_away(envelope, data.exp_content.out_of_area, 6),
        out_of_province=_away(envelope, data.exp_content.out_of_province, 2),
        referral=_yes(data.exp_content.referral),
        emergency=_yes(data.exp_content.emergency),
        medfee_sumamt=data.medfee_sumamt,
        fulamt_ownpay_amt=data.fulamt_ownpay_amt,
        overlmt_selfpay=data.overlmt_selfpay,
        preselfpay_amt=data.preselfpay_amt,
    )
    if data.inscp_scp_amt is not None and parts_given(data):  # all-zero parts: not computed, not checked
        expected = data.medfee_sumamt - data.fulamt_ownpay_amt - data.overlmt_selfpay - data.preselfpay_amt
        if data.inscp_scp_amt != expected:
            raise InputError(
                "input.data.inscp_scp_amt",
                f"{data.inscp_scp_amt} ≠ medfee_sumamt − the three self-pay parts ({expected})",
            )
    return claim


def declared(data: SettleData, policy: Policy) -> tuple[tuple[str, ...], list[str]]:
    """The categories the message says the person holds (checked against the registry, never
    stored), and notes on codes the policy does not know."""
    codes = policy.identity_codes.codes if policy.identity_codes else {}
    found: list[str] = []
    notes = []
    for record in data.idetinfo:
        category = codes.get(record.psn_idet_type)
        if category is None:
            notes.append(f"idetinfo psn_idet_type {record.psn_idet_type!r} is not a code of policy {policy.id}")
        else:
            found.append(str(category))
    declared_category = data.exp_content.relief_category
    if declared_category is not None and declared_category not in policy.categories():
        notes.append(f"exp_content.relief_category {declared_category!r} is not a category of policy {policy.id}")
    elif declared_category is not None:
        found.append(declared_category)
    return tuple(dict.fromkeys(found)), notes


def stored_reply(output: dict[str, Any], warnings: tuple[str, ...] | list[str] = ()) -> bytes:
    """What a settlement's ``msgid`` replays: its ``warn_msg`` and ``output`` (the envelope's times
    are the retry's own)."""
    body = {"warn_msg": "; ".join(warnings) or None, "output": output}
    return to_json(body)


def ref_msgid(envelope: Envelope | None, time: str) -> str:
    """Our reply id: division code (6) + time (14, ``yyyyMMddHHmmss``) + serial (10), stable for one msgid."""
    if envelope is None:
        return f"000000{time}0000000000"
    serial = int(hashlib.sha256(f"{envelope.fixmedins_code or ''}\n{envelope.msgid}".encode()).hexdigest(), 16) % 10**10
    return f"{(envelope.mdtrtarea_admvs or '000000')[:6]:0>6}{time}{serial:010d}"


def envelope_bytes(envelope: Envelope | None, stored: bytes | None = None, error: str | None = None) -> bytes:
    """The response envelope around a stored reply (``infcode`` 0), or an error (``infcode`` -1)."""
    now = datetime.now(CHINA)
    stamp = now.strftime("%Y%m%d%H%M%S%f")[:17]
    head = {
        "infcode": 0 if error is None else -1,
        "inf_refmsgid": ref_msgid(envelope, stamp[:14]),
        "refmsg_time": stamp,
        "respond_time": stamp,
        "err_msg": error,
    }
    prefix = to_json(head)[:-1]
    rest = stored if stored is not None else stored_reply({})
    return prefix + b"," + rest[1:]


def reply(envelope: Envelope | None, output: dict[str, Any] | None, error: str | None = None) -> dict[str, Any]:
    """The response envelope as a dict (``infcode`` 0 with ``output``, or -1 with ``err_msg``)."""
    stored = stored_reply(output or {})
    parsed: dict[str, Any] = json.loads(envelope_bytes(envelope, stored, error))
    return parsed


def exact_yuan(value: Decimal) -> float:
    """A Decimal amount (yuan) as the interface's number."""
    return yuan_number(fen_of(value))


def day(moment: datetime | date | None) -> date | None:
    return moment.date() if isinstance(moment, datetime) else moment
