"""The printable settlement slip (结算单): one HTML page showing each layer, in the policy's words
(categories, visit types, levels, funds and rules by the names the policy gives them)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from api.schemas import SettlementOut
from tiers.schema import Policy
from tiers.vocabulary import Names

_env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))


def render_slip(settlement: SettlementOut, policy: Policy) -> str:
    return _env.get_template("slip.html").render(s=settlement, policy_name=policy.name, names=Names(policy))
