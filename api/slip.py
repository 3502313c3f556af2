"""The printable settlement slip (结算单): one HTML page showing each layer."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from api.schemas import SettlementOut

_env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))
LAYER_NAMES = {"hifp_pay": "基本医保统筹基金", "hifmi_pay": "大病保险", "maf_pay": "医疗救助", "supp_pay": "补充保险"}


def render_slip(settlement: SettlementOut, policy_name: str) -> str:
    return _env.get_template("slip.html").render(s=settlement, policy_name=policy_name, names=LAYER_NAMES)
