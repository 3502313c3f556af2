"""The printable settlement slip (结算单): one HTML page a patient can read — names in words (the
policy's names for categories, visit types, tiers, funds and rules), the patient's name with the ID
number masked, what each fund paid and under which rule, what the patient pays in figures and in
capitals (大写), what is left of each cap, the adjustments since and the patient's share after them,
and a reversed or reversal slip marked so nobody can miss it. A4/A5 print stylesheet."""

from __future__ import annotations

import re
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
_BAND = re.compile(r"(?P<lo>[0-9.]+)–(?P<hi>[0-9.]*) @ (?P<ratio>[0-9.]+%)")
_REASONS = (
    (re.compile(r"^identity (?P<c>\w+) granted from (?P<d>[0-9-]+)"), "追认{c}身份（自 {d} 起）"),
    (re.compile(r"^identity (?P<c>\w+) revoked"), "撤销{c}身份"),
    (re.compile(r"^reversal of (?P<s>\w+)"), "冲正结算 {s} 后重算"),
)
_CATEGORY_CHANGE = re.compile(r"; category (?P<a>\w+) → (?P<b>\w+)$")
KINDS = {"settlement": "结算", "reversal": "冲正 (reversal)", "pre_settlement": "预结算 (trial, nothing stored)"}
STATUSES = {"settled": "有效", "reversed": "已冲正 (reversed)", "not_stored": "未保存 (trial)"}


def bands_in_words(bands: str) -> str:
    """The explanation's bands as a patient reads them.

    >>> bands_in_words("7500.00–50000.00 @ 65%; 50000.00– @ 75%")
    '7,500.00–50,000.00 元部分按 65%，50,000.00 元以上部分按 75%'
    """

    def one(band: re.Match[str]) -> str:
        lo, hi, ratio = (yuan_grouped(fen_of(Decimal(band["lo"]))), band["hi"], band["ratio"])
        return f"{lo}–{yuan_grouped(fen_of(Decimal(hi)))} 元部分按 {ratio}" if hi else f"{lo} 元以上部分按 {ratio}"

    return "，".join(one(band) for band in _BAND.finditer(bands)) or bands


def reason_in_words(reason: str, names: Names) -> str:
    """A re-settlement's reason in the patient's words (the stored text where no pattern fits).

    >>> from tiers.loader import load_policy
    >>> reason_in_words("identity dibao granted from 2024-01-01; category general → dibao", Names(load_policy("demo")))
    '追认低保对象身份（自 2024-01-01 起）；按低保对象重新结算（原按普通参保人）'
    """
    head, change = _CATEGORY_CHANGE.split(reason, maxsplit=1)[0], _CATEGORY_CHANGE.search(reason)
    words = head
    for pattern, text in _REASONS:
        found = pattern.match(head)
        if found:
            words = text.format(**{k: names.category(v) if k == "c" else v for k, v in found.groupdict().items()})
            break
    if change:
        words += f"；按{names.category(change['b'])}重新结算（原按{names.category(change['a'])}）"
    return words


def patient_share(settlement: SettlementOut) -> Decimal:
    """What the patient bears after the adjustments since the settlement: each fund's delta moves
    the same amount the other way on the patient's side."""
    return Decimal(settlement.psn_part_amt) - sum((Decimal(a.delta) for a in settlement.adjustments), Decimal(0))


def render_slip(
    settlement: SettlementOut, policy: Policy, person: dict[str, Any] | None = None, paper: str = "A4"
) -> str:
    """The slip of a stored settlement; ``person``: the registry's row (name, ID number); ``paper``:
    A4, or A5 (smaller type and margins in print)."""
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
        paper=paper,
        bands_in_words=bands_in_words,
        reason_in_words=lambda reason: reason_in_words(reason, Names(policy)),
    )
