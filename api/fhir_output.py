"""HL7 FHIR R4 answers: the ClaimResponse of a submitted (or stored) settlement, its
ExplanationOfBenefit — summable by a standard consumer.

**Adjudication model.** ``total`` (and each item's ``adjudication``) holds one entry per category,
so that summing a category gives what it means: ``submitted`` (医疗费总额), ``eligible`` (政策范围内),
``deductible`` (起付线), ``benefit`` — what all the funds pay together, equal to ``payment.amount`` —
and the patient's share (:data:`PATIENT_SHARE` ``patient-share``). What each fund pays is told apart
by its own category, the fund's code in :data:`FUND_PAY_TYPE` (``390100`` 基本医保统筹基金, ``390200``
大病保险, ``610100`` 医疗救助, … with the fund's name as display): the fund entries add up to
``benefit``. The funds are the payers, named in ``insurance`` in settlement order (the first focal),
each a logical reference to its coverage by the same code. The in-policy items share the deductible
and every fund's payment pro rata to their net (largest remainder: every column adds up to its
total to the fen); a self-pay item (全自费, 超限价, 先行自付) is all the patient's.

**Lifecycle.** A pre-settlement (``predetermination``) has no identifier and no payment; its
disposition says nothing was stored. The ExplanationOfBenefit documents the adjudication as of its
settlement: ``benefitBalance`` per capped fund from the settlement's own lines (``allowedMoney`` the
cap, ``usedMoney`` what was used after it, ``term`` annual) — not recomputed later; a reversed
settlement reads ``cancelled``; adjustments made since (re-settlement after a retroactive change)
are listed as process notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic_core import to_json

from api.fhir import (
    ADJUDICATION,
    BASE,
    BILL_PART,
    FUND_PAY_TYPE,
    HOSPITAL_LEVEL,
    ICD10,
    MED_TYPE,
    PATIENT_SHARE,
    BillItem,
    Classified,
    bill_items,
)
from api.fhir_model import Claim
from settlement.money import fen_of, yuan_number, yuan_text

Row = dict[str, Any]
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"
BENEFIT_TERM = "http://terminology.hl7.org/CodeSystem/benefit-term"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
CAP_BUCKET = f"{BASE}/CodeSystem/cap-bucket"


def _money(fen: int) -> dict[str, Any]:
    return {"value": yuan_number(fen), "currency": "CNY"}


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding]}


CATEGORY = {code: concept(ADJUDICATION, code) for code in ("submitted", "eligible", "deductible", "benefit")}
CATEGORY["patient-share"] = concept(PATIENT_SHARE, "patient-share")
"""The adjudication categories, built once (a response shares them: they are only written out)."""


def fund_code(line: Row) -> str:
    """The fund's code: its ``fund_pay_type``, else its payment column."""
    return str(line["fund_pay_type"] or line["output"])


def _fund_category(line: Row, funds: dict[str, str]) -> dict[str, Any]:
    return concept(FUND_PAY_TYPE, fund_code(line), funds.get(str(line["output"])))


def _entry(category: dict[str, Any], fen: int) -> dict[str, Any]:
    return {"category": category, "amount": _money(fen)}


def adjudications(values: Row, lines: list[Row], funds: dict[str, str]) -> list[dict[str, Any]]:
    """The totals: submitted, eligible, deductible, benefit (Σ funds), the patient's share, each fund."""
    return [
        _entry(CATEGORY["submitted"], values["medfee_sumamt"]),
        _entry(CATEGORY["eligible"], values["inscp_scp_amt"]),
        _entry(CATEGORY["deductible"], values["act_pay_dedc"]),
        _entry(CATEGORY["benefit"], values["fund_pay_sumamt"]),
        _entry(CATEGORY["patient-share"], values["psn_part_amt"]),
        *[_entry(_fund_category(line, funds), line["paid"]) for line in lines],
    ]


def split(amount: int, weights: list[int]) -> list[int]:
    """``amount`` fen split pro rata to ``weights`` (fen ≥ 0), exact: the largest remainders get the
    fen left over (the first among equals); all to the first weight when they are all zero.

    >>> split(100, [1, 1, 1]), split(7, [300, 200, 100]), split(5, [0, 0])
    ([34, 33, 33], [4, 2, 1], [5, 0])
    """
    total = sum(weights)
    if not weights:
        return []
    if total == 0:
        return [amount] + [0] * (len(weights) - 1)
    shares = [amount * w // total for w in weights]
    left = amount - sum(shares)
    if left:
        order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
        for i in order[:left]:
            shares[i] += 1
    return shares


@dataclass(frozen=True, slots=True)
class ItemBase:
    """An item as its adjudication reads it, in fen: its sequence, its net and what of it is
    eligible (in-policy) — nothing of a self-pay part (全自费, 超限价, 先行自付), a catalogue item's
    net less its self-pay parts, else all of it."""

    sequence: int
    net: int
    eligible: int


def item_bases(items: Sequence[BillItem], classified: Classified) -> tuple[ItemBase, ...]:
    """The Claim's items (:func:`api.fhir.bill_items`) as their adjudication reads them."""
    bases = []
    for item in items:
        net = fen_of(item.net)
        bases.append(ItemBase(item.sequence, net, 0 if item.self_pay else net - sum(classified.get(item.index, ()))))
    return tuple(bases)


@dataclass(frozen=True)
class ItemShare:
    """An item's adjudication in fen: its net, what is eligible, its share of the deductible and
    of each fund's payment (in the lines' order)."""

    sequence: int
    net: int
    eligible: int
    deductible: int
    paid: list[int]


def item_shares(items: Sequence[ItemBase], values: Row, lines: list[Row]) -> list[ItemShare]:
    """Per item (:func:`item_bases`): the eligible items share the deductible and each fund's
    payment pro rata to what is eligible (largest remainder, so every column adds up to the total
    to the fen); the patient's share is the rest."""
    eligible = [item.eligible for item in items]
    columns = [split(values["act_pay_dedc"], eligible), *[split(line["paid"], eligible) for line in lines]]
    return [
        ItemShare(item.sequence, item.net, item.eligible, columns[0][n], [column[n] for column in columns[1:]])
        for n, item in enumerate(items)
    ]


def _item_adjudications(
    claim: Claim, values: Row, lines: list[Row], funds: dict[str, str], classified: Classified
) -> list[dict[str, Any]]:
    """Per item (:func:`item_shares`): submitted, eligible, deductible, benefit, the patient's share
    and each fund's part (the last three only of an eligible item)."""
    categories = [_fund_category(line, funds) for line in lines]
    entries = []
    for share in item_shares(item_bases(bill_items(claim), classified), values, lines):
        rows = [_entry(CATEGORY["submitted"], share.net), _entry(CATEGORY["eligible"], share.eligible)]
        if share.eligible:
            rows += [_entry(CATEGORY["deductible"], share.deductible), _entry(CATEGORY["benefit"], sum(share.paid))]
        rows.append(_entry(CATEGORY["patient-share"], share.net - sum(share.paid)))
        if share.eligible:
            rows += [_entry(c, fen) for c, fen in zip(categories, share.paid, strict=True)]
        entries.append({"itemSequence": share.sequence, "adjudication": rows})
    return entries


def insurance(
    lines: list[Row], funds: dict[str, str], *, sequenced: bool = True, submitted: str | None = None
) -> list[dict[str, Any]]:
    """The payers, one per fund in settlement order (the first focal), by a logical reference
    (``sequenced``: numbered, as a ClaimResponse's are; an EOB's are not); ``submitted``: the
    Claim's focal coverage reference, echoed on the first (the basic fund pays under it)."""
    out = []
    for n, line in enumerate(lines, 1):
        coverage: dict[str, Any] = {"identifier": {"system": FUND_PAY_TYPE, "value": fund_code(line)}}
        if n == 1 and submitted:
            coverage["reference"] = submitted
        if str(line["output"]) in funds:
            coverage["display"] = funds[str(line["output"])]
        out.append({**({"sequence": n} if sequenced else {}), "focal": n == 1, "coverage": coverage})
    return out


def focal_coverage(insurance: Any) -> str | None:
    """The reference of the focal coverage among a submitted Claim's ``insurance`` entries."""
    for entry in insurance if isinstance(insurance, list) else []:
        if isinstance(entry, dict) and entry.get("focal") and isinstance(entry.get("coverage"), dict):
            return str(entry["coverage"].get("reference") or "") or None
    return None


def _kind(values: Row) -> str:
    return "institutional" if values["med_type"] == "21" else "professional"


def status_of(values: Row) -> str:
    return "cancelled" if values.get("status") == "reversed" else "active"


def disposition(values: Row) -> str:
    if not values["setl_id"]:
        return f"试算 (predetermination) under policy {values['policy_id']} as {values['category']}: nothing stored"
    if values.get("kind") == "reversal":
        return f"冲正 (reversal) {values['setl_id']} of settlement {values.get('reverses')}"
    state = "reversed (冲正) since" if values.get("status") == "reversed" else "settled"
    return f"{state}: settlement {values['setl_id']} under policy {values['policy_id']} as {values['category']}"


def process_notes(notes: Sequence[str]) -> dict[str, Any]:
    return (
        {"processNote": [{"number": n, "type": "display", "text": t} for n, t in enumerate(notes, 1)]} if notes else {}
    )


def claim_response(
    claim: Claim | None,
    values: Row,
    lines: list[Row],
    funds: dict[str, str],
    notes: Sequence[str] = (),
    classified: Classified | None = None,
    coverage: str | None = None,
) -> dict[str, Any]:
    """The ClaimResponse of a settled or pre-settled claim (``claim``: as submitted; None for a stored
    settlement read back, without items), from its row and lines as the books hold them (fen);
    ``notes``: what the hospital should be told (an early warning among them), as process notes."""
    setl_id = values["setl_id"] or None
    use = claim["use"] if claim else "claim"
    kind = echoed(claim["type"]) if claim else concept(CLAIM_TYPE, _kind(values))
    stored = {"id": setl_id, "identifier": [{"system": f"{BASE}/setl_id", "value": setl_id}]} if setl_id else {}
    paid = {"type": concept(PAYMENT_TYPE, "complete"), "amount": _money(values["fund_pay_sumamt"])}
    return {
        "resourceType": "ClaimResponse",
        **stored,
        "status": status_of(values),
        "type": kind,
        "use": use,
        "patient": {"reference": f"Patient/{values['person_id']}"},
        "created": date.today().isoformat(),
        "insurer": {
            "reference": f"Organization/{values['policy_id']}",
            "display": f"medrelief policy {values['policy_id']}",
        },
        "request": {"identifier": {"value": values["claim_id"]}},
        "outcome": "complete",
        "disposition": disposition(values),
        **(
            {"item": _item_adjudications(claim, values, lines, funds, classified or {})}
            if claim and claim.get("item")
            else {}
        ),
        "total": adjudications(values, lines, funds),
        **({"payment": paid} if use == "claim" else {}),
        "insurance": insurance(lines, funds, submitted=focal_coverage(claim["insurance"]) if claim else coverage),
        **process_notes(notes),
    }


def echoed(element: Any) -> Any:
    """A submitted element as answered back: without the nulls FHIR JSON does not carry."""
    if isinstance(element, dict):
        return {k: echoed(v) for k, v in element.items() if v is not None}
    if isinstance(element, list):
        return [echoed(v) for v in element]
    return element


def resource_bytes(resource: dict[str, Any]) -> bytes:
    """A resource as JSON (pydantic-core's writer: numbers as their shortest exact text)."""
    return to_json(resource)


def _balance(line: Row, funds: dict[str, str]) -> dict[str, Any]:
    used = int(line["cap_used_before"]) + int(line["paid"])
    return {
        "category": concept(CAP_BUCKET, f"{line['layer']}.{line['bucket']}", funds.get(str(line["output"]))),
        "name": str(line["rule"]),
        "term": concept(BENEFIT_TERM, "annual"),
        "financial": [
            {
                "type": concept(BENEFIT_TYPE, "benefit"),
                "allowedMoney": _money(int(line["cap"])),
                "usedMoney": _money(used),
            }
        ],
    }


def explanation_of_benefit(
    values: Row, lines: list[Row], adjustments: list[Row], funds: dict[str, str], coverage: str | None = None
) -> dict[str, Any]:
    """The EOB of a stored settlement as of that settlement: its totals, what was left of each
    capped fund after it (from its lines), ``cancelled`` once reversed; later adjustments as notes;
    ``coverage``: the submitted Claim's focal coverage, echoed on the first payer."""
    notes = [f"adjusted later: {a['output']} {yuan_text(int(a['delta']))} ({a['reason']})" for a in adjustments]
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": values["setl_id"],
        "identifier": [{"system": f"{BASE}/setl_id", "value": values["setl_id"]}],
        "status": status_of(values),
        "type": concept(CLAIM_TYPE, _kind(values)),
        "use": "claim",
        "patient": {"reference": f"Patient/{values['person_id']}"},
        "created": values["settle_date"].isoformat(),
        "insurer": {"reference": f"Organization/{values['policy_id']}"},
        "provider": {"reference": f"Organization/{values['institution_id']}"},
        "outcome": "complete",
        "disposition": disposition(values),
        "insurance": insurance(lines, funds, sequenced=False, submitted=coverage),
        "total": adjudications(values, lines, funds),
        "payment": {"type": concept(PAYMENT_TYPE, "complete"), "amount": _money(values["fund_pay_sumamt"])},
        "benefitBalance": [_balance(line, funds) for line in lines if int(line["cap"]) >= 0],
        **process_notes(notes),
    }


_PARTS = (
    ("fulamt_ownpay", "fulamt_ownpay_amt"),
    ("overlmt_selfpay", "overlmt_selfpay"),
    ("preselfpay", "preselfpay_amt"),
)


def submitted_claim(values: Row, document: dict[str, Any]) -> dict[str, Any]:
    """The Claim its client submitted, read back: as it came, under the settlement's id, ``cancelled``
    once the settlement is reversed."""
    status = "cancelled" if values.get("status") == "reversed" else document.get("status", "active")
    return {**document, "id": values["setl_id"], "status": status}


def stored_claim(values: Row) -> dict[str, Any]:
    """The service's record of a settled claim as a FHIR Claim (what it settled, not the bytes a
    client sent): its identifier, visit type, hospital level, dates, diagnosis, and the bill as items —
    the in-policy part, then each self-pay part (:data:`BILL_PART` categories) — adding up to its total."""
    inscp = int(values["inscp_scp_amt"])
    parts = [(code, int(values[column])) for code, column in _PARTS if int(values[column])]
    items = (
        [{"sequence": 1, "productOrService": concept(BILL_PART, "in_policy"), "net": _money(inscp)}] if inscp else []
    )
    items += [{"sequence": len(items) + n, "category": concept(BILL_PART, code), "productOrService":
               concept(BILL_PART, code), "net": _money(fen)} for n, (code, fen) in enumerate(parts, 1)]  # fmt: skip
    period = {"end": values["settle_date"].isoformat()}
    if values.get("admission_date"):
        period["start"] = values["admission_date"].isoformat()
    diagnosis = values.get("diagnosis") or ""
    return {
        "resourceType": "Claim",
        "id": values["setl_id"],
        "identifier": [{"system": f"{BASE}/claim_id", "value": values["claim_id"]}],
        "status": "cancelled" if values.get("status") == "reversed" else "active",
        "type": concept(CLAIM_TYPE, _kind(values)),
        "subType": concept(MED_TYPE, str(values["med_type"])),
        "use": "claim",
        "patient": {"reference": f"Patient/{values['person_id']}"},
        "billablePeriod": period,
        "created": values["settle_date"].isoformat(),
        "provider": {"reference": f"Organization/{values['institution_id']}"},
        "priority": concept("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{values['person_id']}"}}],
        "extension": [{"url": HOSPITAL_LEVEL, "valueInteger": int(values["hospital_level"])}],
        **(
            {"diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": concept(ICD10[0], diagnosis)}]}
            if diagnosis
            else {}
        ),
        **({"item": items} if items else {}),
        "total": _money(int(values["medfee_sumamt"])),
    }
