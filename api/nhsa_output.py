"""The national platform's answers to a settlement (§4.4): ``setlinfo`` filled from the settlement
(each fund under the field its layer names, :data:`FUND_FIELDS`), ``setldetail`` one row per layer
with the layer's ``fund_pay_type`` and ``fund_pay_type_name`` from the policy file. Money is a JSON
number with at most two decimals, exact to the fen (:func:`settlement.money.yuan_number`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from api.claims import birth_date_of
from settlement.claims import age_on
from settlement.money import yuan_number
from tiers.schema import NHSA_FIELDS, Policy

if TYPE_CHECKING:
    from api.desk import Settled

FUND_FIELDS = ("hifp_pay", "hifmi_pay", "maf_pay", "oth_pay", "cvlserv_pay", "hifes_pay", "hifob_pay", "hifdm_pay")
"""``setlinfo``'s fund fields: each layer is reported under the one its policy names
(:meth:`tiers.schema.Layer.platform_field`: the supplementary layer and a region's own funds in 其他支出
``oth_pay`` unless they name another, e.g. 职工大额 ``hifdm_pay``); fields no layer uses are 0."""
ZERO_FIELDS = ("acct_pay", "hosp_part_amt", "acct_mulaid_pay", "balc")


@dataclass(frozen=True)
class Visit:
    """What a settlement's answer repeats of the message and the registry: the person (name, ID
    number), the settlement's moment, the message's 凭证类型, 参保地 and the hospital's own
    settlement id (``medins_setl_id``, else the ``msgid``)."""

    name: str = ""
    id_number: str = ""
    moment: datetime | None = None
    mdtrt_cert_type: str = ""
    insuplc_admdvs: str = ""
    medins_setl_id: str | None = None


def id_number_facts(id_number: str, on: date) -> dict[str, Any]:
    """性别, 出生日期 and 年龄 read from an 18-digit 身份证号 (blank for any other)."""
    born = birth_date_of(id_number)
    if born is None:
        return {"gend": "", "brdy": "", "age": None}
    return {"gend": "1" if int(id_number[16]) % 2 else "2", "brdy": born.isoformat(), "age": age_on(born, on)}


def _person_fields(visit: Visit, on: date) -> dict[str, Any]:
    """The person's fields of ``setlinfo`` (the ID number as the platform carries it to the hospital
    that treated the person)."""
    return {"psn_name": visit.name, "psn_cert_type": "01" if visit.id_number else "", "certno": visit.id_number,
            "naty": "", **id_number_facts(visit.id_number, on), "psn_type": "", "cvlserv_flag": "0",
            "mdtrt_cert_type": visit.mdtrt_cert_type}  # fmt: skip


def clearing_type(med_type: str, settles_as: dict[str, str]) -> str:
    """清算类别 (``clr_type``) of a visit type: 21 住院 if it settles as inpatient, else 11 门诊."""
    return "21" if settles_as.get(med_type, med_type) == "21" else "11"


def _ratio(paid: int, base: int) -> Decimal:
    return (Decimal(paid) / Decimal(base)).quantize(Decimal("0.0001")) if base > 0 else Decimal(0)


def _fund_fields(lines: list[dict[str, Any]], policy: Policy) -> dict[str, float]:
    """Each ``setlinfo`` fund field: Σ what the layers reported under it paid (each layer's line)."""
    fields = dict.fromkeys(FUND_FIELDS, 0)
    for line in lines:
        output = str(line["output"])
        layer = policy.layer(output)
        field = layer.platform_field() if layer else NHSA_FIELDS.get(output, "oth_pay")
        fields[field] = fields.get(field, 0) + int(line["paid"])
    return {field: yuan_number(fen) for field, fen in fields.items()}


def _time(values: dict[str, Any], visit: Visit) -> str:
    """``setl_time``: the message's moment when it is the settlement's day, else the day at 00:00:00."""
    moment = visit.moment
    if moment is not None and moment.date() == values["settle_date"]:
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{values['settle_date']:%Y-%m-%d} 00:00:00"


def setlinfo(
    values: dict[str, Any], lines: list[dict[str, Any]], msgid: str | None, policy: Policy, visit: Visit
) -> dict[str, Any]:
    """``setlinfo`` of a settlement (or its reversal, negative amounts), from its row and lines (fen)."""
    money = {f: yuan_number(values[f]) for f in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
                                                  "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc")}  # fmt: skip
    eligible = abs(int(values["inscp_scp_amt"])) - abs(int(values["act_pay_dedc"]))
    return {
        "setl_id": values["setl_id"] or None,
        "mdtrt_id": str(values["claim_id"]).partition("|")[0],
        "psn_no": values["person_id"],
        **_person_fields(visit, values["settle_date"]),
        "insutype": policy.insutype,
        "setl_time": _time(values, visit),
        "med_type": values["med_type"],
        **money,
        "pool_prop_selfpay": float(_ratio(abs(int(values["hifp_pay"])), eligible)),
        **_fund_fields(lines, policy),
        **dict.fromkeys(ZERO_FIELDS, 0.0),
        "fund_pay_sumamt": yuan_number(values["fund_pay_sumamt"]),
        "psn_part_amt": yuan_number(values["psn_part_amt"]),
        "psn_cash_pay": yuan_number(values["psn_part_amt"]),
        "medins_setl_id": visit.medins_setl_id or msgid,
        "clr_optins": visit.insuplc_admdvs,
        "clr_way": "1",
        "clr_type": clearing_type(values["med_type"], policy.settles_as()),
        "relief_category": values["category"],
    }


def _fund_name(line: dict[str, Any], policy: Policy) -> str:
    """The name a hospital prints for a layer's fund (the policy's ``fund_pay_type_name``, else the
    layer's name; a layer the policy no longer has: its id)."""
    layer = next((la for la in policy.layers if la.id == line["layer"]), None)
    return (layer.fund_pay_type_name or layer.name) if layer else str(line["layer"])


def setldetail(lines: list[dict[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """One row per layer: its fund-type code and name (from the policy), base, payment, cap left
    (null: none)."""
    return [
        {
            "fund_pay_type": line["fund_pay_type"],
            "fund_pay_type_name": _fund_name(line, policy),
            "inscp_scp_amt": yuan_number(line["base"]),
            "crt_payb_lmt_amt": None if int(line["cap_left"]) < 0 else yuan_number(line["cap_left"]),
            "fund_payamt": yuan_number(line["paid"]),
            "setl_proc_info": f"{line['rule']}: {line['bands']}",
        }
        for line in lines
    ]


def settlement_output(
    settled: Settled, msgid: str | None, policy: Policy, visit: Visit | None = None
) -> dict[str, Any]:
    """``setlinfo`` and ``setldetail``; the person as the registry has it (else as ``visit`` says)."""
    visit = visit or Visit()
    if any(settled.person):
        visit = replace(visit, name=settled.person[0], id_number=settled.person[1])
    info = setlinfo(settled.values, settled.lines, msgid, policy, visit)
    return {"setlinfo": info, "setldetail": setldetail(settled.lines, policy)}


CUM_TOTALS = (("C0000", None), ("F0000", "medfee_sumamt"), ("S0000", "inscp_scp_amt"), ("Q0000", "act_pay_dedc"))
"""The platform's 累计类别 of a person-year's settlements, as HIS clients read 5206's ``cuminfo``
(fengzaiqishi11/hsa-his ``InsureUnifiedPayReversalTradeBOImpl`` / 结算单: ``C0000`` 次数, ``F0000``
业务总费用, ``S0000`` 分段计算费用, ``Q0000`` 已付起付线, each also per visit type as ``_BIZ<med_type>``)
and the column each sums (None: a count)."""


def cum_info(standing: list[dict[str, Any]], buckets: list[Any], policy: Policy) -> list[tuple[str, Decimal | int]]:
    """``(cum_type_code, cum)`` of a person-year: the settlements' totals by :data:`CUM_TOTALS`
    (overall and per visit type), then per fund ``D<fund_pay_type>`` what it paid and ``TS<fund_pay_type>``
    its cumulative base (大病's 合规费用, TS390200), from the accumulators."""
    out: list[tuple[str, Decimal | int]] = []
    visit_types = sorted({str(s["med_type"]) for s in standing})
    for code, column in CUM_TOTALS:
        for suffix, rows in [("", standing), *((f"_BIZ{t}", [s for s in standing if s["med_type"] == t])
                                               for t in visit_types)]:  # fmt: skip
            total = len(rows) if column is None else Decimal(sum(int(s[column]) for s in rows)) / 100
            out.append((code + suffix, total))
    fund_types = {layer.id: layer.fund_pay_type for layer in policy.layers if layer.fund_pay_type}
    for prefix, field in (("D", "paid_cum"), ("TS", "base_cum")):
        sums: dict[str, Decimal] = {}
        for bucket in buckets:
            if bucket.layer in fund_types:
                code = prefix + fund_types[bucket.layer]
                sums[code] = sums.get(code, Decimal(0)) + Decimal(getattr(bucket, field))
        out += sorted(sums.items())
    return out
