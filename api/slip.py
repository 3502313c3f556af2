"""The printable settlement slip (结算单): one HTML page a patient can read — names in words (the
policy's names for categories, visit types, tiers, funds and rules), the patient's name with the ID
number masked, what each fund paid and under which rule, what the patient pays in figures and in
capitals (大写), what is left of each cap, the adjustments since and the patient's share after them,
and a reversed or reversal slip marked so nobody can miss it. A4/A5 print stylesheet."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from api.auth import mask_id_number
from api.schemas import SettlementOut
from settlement.money import fen_of, yuan_grouped, yuan_in_capitals
from tiers.schema import Policy
from tiers.vocabulary import Names

_env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))
_env.filters["yuan"] = lambda amount: yuan_grouped(fen_of(Decimal(amount)))
_env.filters["capitals"] = lambda amount: yuan_in_capitals(fen_of(Decimal(amount)))
KINDS = {"settlement": "结算", "reversal": "冲正 (reversal)", "pre_settlement": "预结算 (trial, nothing stored)"}
STATUSES = {"settled": "有效", "reversed": "已冲正 (reversed)", "not_stored": "未保存 (trial)"}


def patient_share(settlement: SettlementOut) -> Decimal:
    """What the patient bears after the adjustments since the settlement: each fund's delta moves
    the same amount the other way on the patient's side."""
    return Decimal(settlement.psn_part_amt) - sum((Decimal(a.delta) for a in settlement.adjustments), Decimal(0))


def render_slip(settlement: SettlementOut, policy: Policy, person: dict[str, Any] | None = None) -> str:
    """The slip of a stored settlement; ``person``: the registry's row (name, ID number)."""
    person = person or {}
    return _env.get_template("slip.html").render(
        s=settlement,
        policy_name=policy.name,
        names=Names(policy),
        kind=KINDS.get(settlement.kind, settlement.kind),
        status=STATUSES.get(settlement.status, settlement.status),
        patient=str(person.get("name") or ""),
        id_number=mask_id_number(str(person.get("id_number") or "")),
        share_now=patient_share(settlement),
    )
