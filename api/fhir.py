"""HL7 FHIR R4: Claim in (:mod:`api.fhir_model`), ClaimResponse / ExplanationOfBenefit out.

A Claim becomes a native claim:

* ``identifier[0].value`` (else ``id``) is the claim id, ``patient`` (``Patient/<person_id>``) the
  person — registered with the service, whose identities give the relief category;
* the visit type is ``subType`` coded in :data:`MED_TYPE` (``11``/``14``/``21``), else ``type``:
  ``institutional`` → inpatient, ``professional`` → general outpatient;
* the hospital level is the extension :data:`HOSPITAL_LEVEL` (``valueInteger`` 1–3);
* the date is ``billablePeriod.end``, else ``created``; the admission ``billablePeriod.start``;
  the diagnosis the first ICD-10 code of ``diagnosis``; ``accident`` present means an accident,
  ``referral`` present a regular referral (规范转诊; or the extension :data:`REFERRAL`); the
  extensions :data:`OUT_OF_AREA`, :data:`OUT_OF_PROVINCE` and :data:`EMERGENCY`
  (``valueBoolean``) say 异地就医, 跨省 and 急诊抢救;
* ``total`` is 医疗费总额; items whose ``category`` is coded in :data:`BILL_PART` as
  ``fulamt_ownpay``, ``overlmt_selfpay`` or ``preselfpay`` are those parts, the rest is in-policy.

The response has, per item and in ``total``, the adjudications ``submitted``, ``eligible``,
``deductible`` and one ``benefit`` per layer (the in-policy items share them pro rata to their
net, exact to the fen) (the extension :data:`LAYER` names it with the
policy's ``fund_pay_type``), plus the patient's share (:data:`PATIENT_SHARE`). The
ExplanationOfBenefit adds ``benefitBalance``: per cap bucket, the cap, what was used and what is
left. Money is CNY with two decimals, exact to the fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from api.fhir_model import Claim
from api.schemas import AccumulatorsOut, ClaimIn
from settlement.money import fen_of, yuan_number

BASE = "https://medrelief.dev/fhir"
MED_TYPE = f"{BASE}/CodeSystem/med_type"
BILL_PART = f"{BASE}/CodeSystem/bill-part"
LAYER = f"{BASE}/StructureDefinition/layer"
HOSPITAL_LEVEL = f"{BASE}/StructureDefinition/hospital-level"
OUT_OF_AREA = f"{BASE}/StructureDefinition/out-of-area"
OUT_OF_PROVINCE = f"{BASE}/StructureDefinition/out-of-province"
REFERRAL = f"{BASE}/StructureDefinition/referral"
EMERGENCY = f"{BASE}/StructureDefinition/emergency"
FUND_PAY_TYPE = f"{BASE}/CodeSystem/fund_pay_type"
PATIENT_SHARE = f"{BASE}/CodeSystem/adjudication"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://terminology.hl7.org/CodeSystem/icd10")
SELF_PAY = ("fulamt_ownpay", "overlmt_selfpay", "preselfpay")
BY_TYPE = {"institutional": "21", "professional": "11"}
Row = dict[str, Any]
"""A settlement's row or one of its lines, as the books hold them (money in fen)."""


class ClaimError(ValueError):
    """A Claim the service cannot settle; ``param`` is the FHIRPath of the problem."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param


def read_claim(raw: dict[str, Any]) -> Claim:
    """Validate a Claim resource (what settling it reads); the first error names its path."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "Claim":
        raise ClaimError("resourceType", "expected a Claim")
    try:
        return Claim.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ClaimError("Claim." + ".".join(str(p) for p in first["loc"]), first["msg"]) from exc


def _codes(concept: Any, system: str) -> list[str]:
    return [str(c.code) for c in (concept.coding or []) if c.system == system] if concept else []


def _med_type(claim: Claim) -> str:
    coded = _codes(claim.subType, MED_TYPE)
    if coded:
        return coded[0]
    kinds = [str(c.code) for c in claim.type.coding or []]
    for kind in kinds:
        if kind in BY_TYPE:
            return BY_TYPE[kind]
    raise ClaimError("Claim.subType", f"give the visit type coded in {MED_TYPE} (type {kinds} does not say)")


def _level(claim: Claim) -> int:
    for extension in claim.extension or []:
        if extension.url == HOSPITAL_LEVEL:
            return int(extension.valueInteger or 0)
    raise ClaimError("Claim.extension", f"hospital level missing: extension {HOSPITAL_LEVEL} (valueInteger 1–3)")


def _flag(claim: Claim, url: str) -> bool:
    """A claim attribute given as a ``valueBoolean`` extension (absent: false)."""
    return any(e.url == url and bool(e.valueBoolean) for e in claim.extension or [])


def _diagnosis(claim: Claim) -> str:
    for entry in claim.diagnosis or []:
        for coding in (entry.diagnosisCodeableConcept.coding or []) if entry.diagnosisCodeableConcept else []:
            if coding.system in ICD10:
                return str(coding.code)
    return ""


def _cny(money: Any, where: str) -> Decimal:
    if money is None or money.value is None:
        raise ClaimError(where, "an amount is required")
    if money.currency not in (None, "CNY"):
        raise ClaimError(where, f"currency {money.currency} is not CNY")
    value: Decimal = money.value
    return value


def _day(text: str, where: str) -> date:
    """The day of a FHIR date or dateTime; a partial date (``2025-03``, valid FHIR) cannot be settled."""
    if len(text) < len("YYYY-MM-DD"):
        raise ClaimError(where, f"{text!r}: settling needs the full date (YYYY-MM-DD)")
    return date.fromisoformat(text[:10])


def _parts(claim: Claim, total: Decimal) -> dict[str, Decimal]:
    parts = dict.fromkeys(SELF_PAY, Decimal(0))
    items = Decimal(0)
    for i, item in enumerate(claim.item or []):
        net = _cny(item.net, f"Claim.item[{i}].net")
        items += net
        for code in _codes(item.category, BILL_PART):
            if code in parts:
                parts[code] += net
    if claim.item and items != total:
        raise ClaimError("Claim.total", f"{total} is not the sum of the items' net ({items})")
    return parts


def claim_in(claim: Claim) -> ClaimIn:
    """The native claim of a FHIR Claim (see the module docstring)."""
    identifier = next((str(i.value) for i in claim.identifier or [] if i.value), None) or claim.id
    if not identifier:
        raise ClaimError("Claim.identifier", "a claim identifier (or id) is required")
    reference = claim.patient.reference or ""
    if not reference.startswith("Patient/"):
        raise ClaimError("Claim.patient", "expected a reference Patient/<person id>")
    ended = claim.billablePeriod.end if claim.billablePeriod else None
    started = claim.billablePeriod.start if claim.billablePeriod else None
    when, where = (ended, "Claim.billablePeriod.end") if ended else (claim.created, "Claim.created")
    total = _cny(claim.total, "Claim.total")
    fields = {
        "claim_id": identifier,
        "person_id": reference.removeprefix("Patient/"),
        "med_type": _med_type(claim),
        "hospital_level": _level(claim),
        "settle_date": _day(when, where),
        "admission_date": _day(started, "Claim.billablePeriod.start") if started else None,
        "diagnosis": _diagnosis(claim),
        "accident": claim.accident is not None,
        "out_of_area": _flag(claim, OUT_OF_AREA),
        "out_of_province": _flag(claim, OUT_OF_PROVINCE),
        "referral": claim.referral is not None or _flag(claim, REFERRAL),
        "emergency": _flag(claim, EMERGENCY),
        "medfee_sumamt": total,
        **{f"{k}_amt" if k != "overlmt_selfpay" else k: v for k, v in _parts(claim, total).items()},
    }
    try:
        return ClaimIn.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ClaimError(str(first["loc"][0]), first["msg"]) from exc


def request_text(claim: Claim, native: ClaimIn) -> str:
    """What a Claim is remembered by under an ``Idempotency-Key``: what settling and answering it
    read — the native claim, ``use``, ``type`` and each item's sequence, bill part and net — so a
    retry serialised differently (spacing, key order, elements the service does not read) is the
    same request, and a changed amount is not."""
    items = [(i.sequence, _codes(i.category, BILL_PART), str(i.net.value) if i.net else "") for i in claim.item or []]
    kinds = [(c.system, c.code) for c in claim.type.coding or []]
    return f"{native.model_dump_json()}|{claim.use}|{kinds}|{items}"


def _money(fen: int) -> dict[str, Any]:
    return {"value": yuan_number(fen), "currency": "CNY"}


def _category(code: str, system: str = ADJUDICATION) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


CATEGORY = {code: _category(code) for code in ("submitted", "eligible", "deductible", "benefit")}
CATEGORY["patient-share"] = _category("patient-share", PATIENT_SHARE)
"""The adjudication categories, built once (a response shares them: they are only written out)."""


def _layer_extension(layer: Row) -> list[dict[str, Any]]:
    coding = {"system": FUND_PAY_TYPE, "code": layer["fund_pay_type"] or layer["output"], "display": layer["layer"]}
    return [{"url": LAYER, "valueCoding": coding}]


def _adjudication(code: str, fen: int, extension: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"category": CATEGORY[code], "amount": _money(fen)}
    if extension is not None:
        entry["extension"] = extension
    return entry


def adjudications(values: Row, lines: list[Row]) -> list[dict[str, Any]]:
    """submitted, eligible, deductible, one benefit per layer, the total benefit, the patient's share."""
    return [
        _adjudication("submitted", values["medfee_sumamt"]),
        _adjudication("eligible", values["inscp_scp_amt"]),
        _adjudication("deductible", values["act_pay_dedc"]),
        *[_adjudication("benefit", line["paid"], _layer_extension(line)) for line in lines],
        _adjudication("benefit", values["fund_pay_sumamt"]),
        _adjudication("patient-share", values["psn_part_amt"]),
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
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def _item_adjudications(claim: Claim, values: Row, lines: list[Row]) -> list[dict[str, Any]]:
    """Per item: a self-pay part (全自费, 超限价, 先行自付) is submitted, nothing eligible, all the
    patient's; the in-policy items share the deductible and each layer's benefit pro rata to their
    net (largest remainder, so every column adds up to the total to the fen)."""
    items = claim.item or []
    nets = [fen_of(_cny(item.net, f"Claim.item[{i}].net")) for i, item in enumerate(items)]
    own = [bool(set(_codes(item.category, BILL_PART)) & set(SELF_PAY)) for item in items]
    weights = [n for n, o in zip(nets, own, strict=True) if not o]
    columns = [split(values["act_pay_dedc"], weights), *[split(line["paid"], weights) for line in lines]]
    shares = iter(zip(*columns, strict=True))
    extensions = [_layer_extension(line) for line in lines]
    entries = []
    for item, net, self_pay in zip(items, nets, own, strict=True):
        rows = [_adjudication("submitted", net)]
        if self_pay:
            rows += [_adjudication("eligible", 0), _adjudication("patient-share", net)]
        else:
            deductible, *benefits = next(shares)
            rows += [_adjudication("eligible", net), _adjudication("deductible", deductible)]
            rows += [_adjudication("benefit", b, e) for b, e in zip(benefits, extensions, strict=True)]
            rows.append(_adjudication("patient-share", net - sum(benefits)))
        entries.append({"itemSequence": item.sequence, "adjudication": rows})
    return entries


def _common(claim: Claim, values: Row) -> dict[str, Any]:
    return {
        "status": "active",
        "type": claim.type.model_dump(exclude_none=True),
        "use": claim.use,
        "patient": {"reference": f"Patient/{values['person_id']}"},
        "created": date.today().isoformat(),
        "insurer": {
            "reference": f"Organization/{values['policy_id']}",
            "display": f"medrelief policy {values['policy_id']}",
        },
        "outcome": "complete",
    }


def claim_response(claim: Claim, values: Row, lines: list[Row], notes: Sequence[str] = ()) -> dict[str, Any]:
    """The ClaimResponse of a settled (``use = claim``) or pre-settled (``predetermination``) claim,
    from its row and lines as the books hold them (fen); ``notes``: what the hospital should be told
    (an early warning among them), as ``processNote`` entries for display."""
    setl_id = values["setl_id"] or None
    identifier = [{"system": f"{BASE}/setl_id", "value": setl_id}] if setl_id else []
    return {
        "resourceType": "ClaimResponse",
        **({"id": setl_id} if setl_id else {}),
        "identifier": identifier,
        **_common(claim, values),
        "request": {"identifier": {"value": values["claim_id"]}},
        "disposition": f"settled under {values['policy_id']} as {values['category']}",
        "item": _item_adjudications(claim, values, lines),
        "total": [_total(a) for a in adjudications(values, lines)],
        "payment": {"type": {"coding": [{"code": "complete"}]}, "amount": _money(values["fund_pay_sumamt"])},
        **(
            {"processNote": [{"number": n, "type": "display", "text": t} for n, t in enumerate(notes, 1)]}
            if notes
            else {}
        ),
    }


def _total(adjudication: dict[str, Any]) -> dict[str, Any]:
    extension = {"extension": adjudication["extension"]} if "extension" in adjudication else {}
    return {"category": adjudication["category"], "amount": adjudication["amount"], **extension}


def resource_bytes(resource: dict[str, Any]) -> bytes:
    """A resource as JSON (pydantic-core's writer: numbers as their shortest exact text)."""
    return to_json(resource)


def explanation_of_benefit(values: Row, lines: list[Row], caps: AccumulatorsOut, provider: str) -> dict[str, Any]:
    """The EOB of a stored settlement, with what is left of each cap of the person-year."""
    balances = [
        {
            "category": {"coding": [{"system": f"{BASE}/CodeSystem/cap-bucket", "code": f"{b.layer}.{b.bucket}"}]},
            "financial": [
                {"type": {"coding": [{"code": "used"}]}, "usedMoney": _money(fen_of(b.paid_cum))},
                *[
                    {"type": {"coding": [{"code": f"cap:{c.rule}"}]}, "allowedMoney": _money(fen_of(c.cap_left)),
                     **_cap(fen_of(c.cap))}
                    for c in b.caps
                    if c.cap is not None and c.cap_left is not None
                ],
            ],
        }
        for b in caps.buckets
    ]  # fmt: skip
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": values["setl_id"],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": _kind(values)}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{values['person_id']}"},
        "created": values["settle_date"].isoformat(),
        "insurer": {"reference": f"Organization/{values['policy_id']}"},
        "provider": {"reference": f"Organization/{provider}"},
        "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"reference": f"Coverage/{values['person_id']}"}}],
        "total": [_total(a) for a in adjudications(values, lines)],
        "benefitBalance": balances,
    }


def _cap(fen: int) -> dict[str, Any]:
    """The cap itself rides along as an extension of the financial entry whose allowedMoney is what is left."""
    return {"extension": [{"url": f"{BASE}/StructureDefinition/cap", "valueMoney": _money(fen)}]}


def _kind(values: Row) -> str:
    return "institutional" if values["med_type"] == "21" else "professional"
