"""The national platform's answers to a settlement (§4.4): ``setlinfo`` filled from the settlement
(each fund under the field its layer names, :data:`FUND_FIELDS`), ``setldetail`` one row per layer
with the layer's ``fund_pay_type`` and ``fund_pay_type_name`` from the policy file. Money is a JSON
number with at most two decimals, exact to the fen (:func:`settlement.money.yuan_number`)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from settlement.money import yuan_number
from tiers.schema import NHSA_FIELDS, Policy

if TYPE_CHECKING:
    from api.desk import Settled

FUND_FIELDS = ("hifp_pay", "hifmi_pay", "maf_pay", "oth_pay", "cvlserv_pay", "hifes_pay", "hifob_pay", "hifdm_pay")
"""``setlinfo``'s fund fields: each layer is reported under the one its policy names
(:meth:`tiers.schema.Layer.platform_field`: the supplementary layer and a region's own funds in 其他支出
``oth_pay`` unless they name another, e.g. 职工大额 ``hifdm_pay``); fields no layer uses are 0."""
ZERO_FIELDS = ("acct_pay", "hosp_part_amt", "acct_mulaid_pay", "balc")


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


def setlinfo(values: dict[str, Any], lines: list[dict[str, Any]], msgid: str | None, policy: Policy) -> dict[str, Any]:
    """``setlinfo`` of a settlement (or its reversal, negative amounts), from its row and lines (fen)."""
    money = {f: yuan_number(values[f]) for f in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
                                                  "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc")}  # fmt: skip
    eligible = abs(int(values["inscp_scp_amt"])) - abs(int(values["act_pay_dedc"]))
    return {
        "setl_id": values["setl_id"] or None,
        "mdtrt_id": str(values["claim_id"]).partition("|")[0],
        "psn_no": values["person_id"],
        "insutype": policy.insutype,
        "setl_time": values["settle_date"].isoformat() + " 00:00:00",
        "med_type": values["med_type"],
        **money,
        "pool_prop_selfpay": float(_ratio(abs(int(values["hifp_pay"])), eligible)),
        **_fund_fields(lines, policy),
        **dict.fromkeys(ZERO_FIELDS, 0.0),
        "fund_pay_sumamt": yuan_number(values["fund_pay_sumamt"]),
        "psn_part_amt": yuan_number(values["psn_part_amt"]),
        "psn_cash_pay": yuan_number(values["psn_part_amt"]),
        "medins_setl_id": msgid,
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


def settlement_output(settled: Settled, msgid: str | None, policy: Policy) -> dict[str, Any]:
    info = setlinfo(settled.values, settled.lines, msgid, policy)
    return {"setlinfo": info, "setldetail": setldetail(settled.lines, policy)}
