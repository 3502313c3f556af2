"""The clawback statement as a person and a fund read it: HTML to print (A4) and CSV.

The HTML names the person (ID masked), the case and its approval (category, effective date,
容缺), the revocation and the rule applied (mode, reference), each settlement concerned with what
each fund takes back, and per fund what is due, what the fund bears, what has been recovered and
what is outstanding — in figures and in capitals. The CSV has one row per settlement and fund
(:data:`CSV_COLUMNS`, money in yuan), then one total row per fund.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from api.auth import mask_id_number
from api.clawback import FUND_COLUMNS, ClawbackStatement
from settlement.money import yuan_grouped, yuan_in_capitals, yuan_text
from tiers.clawback import MODES
from tiers.tables import CompiledPolicy
from tiers.vocabulary import Names

_env = Environment(loader=PackageLoader("api", "templates"), autoescape=select_autoescape(["html"]))
STATE_NAMES = {"warned": "预警", "applied": "已申请", "approved": "已批准", "verified": "已核实",
               "declined": "不予批准", "revoked": "已撤销"}  # fmt: skip
MODE_NAMES = {"recover": "追回", "hold_harmless": "不予追回（基金承担）", "net_against_later": "从以后的支付中抵扣"}
_env.filters["yuan"] = yuan_grouped
_env.filters["capitals"] = yuan_in_capitals
CSV_COLUMNS = ("case_id", "person_id", "setl_id", "claim_id", "settle_date", "institution_id", "output", "delta")
"""A statement's CSV rows: the settlement, the fund and its adjustment (yuan; negative: taken back);
then per fund a ``TOTAL`` row with ``due``, ``borne_by_fund``, ``recovered``, ``netted`` and ``outstanding``."""


def statement_csv(found: ClawbackStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *FUND_COLUMNS[1:]])
    case = found.case
    for a in found.adjustments:
        row = [case["id"], case["person_id"], a["setl_id"], a["claim_id"], a["settle_date"], a["institution_id"],
               a["output"], yuan_text(a["delta"])]  # fmt: skip
        writer.writerow(row + [""] * (len(FUND_COLUMNS) - 1))
    for fund in found.funds.to_dict("records"):
        money = [yuan_text(int(fund[c])) for c in FUND_COLUMNS[1:]]
        writer.writerow([case["id"], case["person_id"], "TOTAL", "", "", "", fund["output"], "", *money])
    return out.getvalue()


def statement_html(found: ClawbackStatement, person: dict[str, Any], policy: CompiledPolicy, day: date) -> str:
    """The printable statement; ``person``: the registry's row (name, ID number)."""
    return _env.get_template("clawback.html").render(
        st=found,
        case=found.case,
        names=Names(policy.policy),
        policy_name=policy.policy.name,
        patient=person.get("name") or "",
        id_number=mask_id_number(str(person.get("id_number") or "")),
        modes=MODES,
        mode_names=MODE_NAMES,
        state=STATE_NAMES.get(found.case["state"], found.case["state"]),
        funds=found.funds.to_dict("records"),
        outstanding=int(found.funds["outstanding"].sum()),
        day=day,
    )
