"""HL7 FHIR R4: Claim in (:mod:`api.fhir_model`), ClaimResponse / ExplanationOfBenefit out.

A Claim becomes a native claim:

* ``identifier[0].value`` (else ``id``) is the claim id, ``patient`` the person (named as
  :mod:`api.fhir_submit` reads it) — registered with the service, whose identities give the
  relief category;
* the visit type is ``subType`` coded in :data:`MED_TYPE` (``11``/``14``/``21``), else ``type``:
  ``institutional`` → inpatient, ``professional`` → general outpatient;
* the hospital level is the extension :data:`HOSPITAL_LEVEL` (``valueInteger`` 1–3);
* the date is ``billablePeriod.end``, else ``created``; the admission ``billablePeriod.start``;
  the diagnosis the first ICD-10 code of ``diagnosis``; ``accident`` present means an accident,
  ``referral`` present a regular referral (规范转诊; or the extension :data:`REFERRAL`); the
  extensions :data:`OUT_OF_AREA`, :data:`OUT_OF_PROVINCE` and :data:`EMERGENCY`
  (``valueBoolean``) say 异地就医, 跨省 and 急诊抢救;
* ``total`` is 医疗费总额; items whose ``category`` is coded in :data:`BILL_PART` as
  ``fulamt_ownpay``, ``overlmt_selfpay`` or ``preselfpay`` are those parts; an item whose
  ``productOrService`` is a code of the region's catalogue (:data:`CATALOGUE_CODE`) is split into its
  parts by the catalogue as a 2204/2301 detail is (:func:`catalogued`: quantity, ``servicedDate``
  else the claim's date); the rest is in-policy.

The answers (ClaimResponse, ExplanationOfBenefit) are built by :mod:`api.fhir_output`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from api.fhir_model import Claim, validate
from api.schemas import ClaimIn
from settlement.money import fen_of

BASE = "https://medrelief.dev/fhir"
MED_TYPE = f"{BASE}/CodeSystem/med_type"
BILL_PART = f"{BASE}/CodeSystem/bill-part"
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
CATALOGUE_CODE = f"{BASE}/CodeSystem/med_list_codg"
"""The system of a region's medical-insurance catalogue codes (医疗目录编码) in ``productOrService``."""
Classified = dict[int, tuple[int, int, int]]
"""Catalogue-classified items: index → (全自费, 超限价, 先行自付) in fen."""
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
    try:
        return validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ClaimError("Claim." + ".".join(str(p) for p in first["loc"]), first["msg"]) from exc


def codes(concept: Any, system: str) -> list[str]:
    """The codes of a CodeableConcept (a dict, or None) in ``system``."""
    return [str(c.get("code")) for c in concept.get("coding") or [] if c.get("system") == system] if concept else []


def _med_type(claim: Claim) -> str:
    coded = codes(claim.get("subType"), MED_TYPE)
    if coded:
        return coded[0]
    kinds = [str(c.get("code")) for c in claim["type"].get("coding") or []]
    for kind in kinds:
        if kind in BY_TYPE:
            return BY_TYPE[kind]
    raise ClaimError("Claim.subType", f"give the visit type coded in {MED_TYPE} (type {kinds} does not say)")


def _level(claim: Claim) -> int:
    for extension in claim.get("extension") or []:
        if extension["url"] == HOSPITAL_LEVEL:
            return int(extension.get("valueInteger") or 0)
    raise ClaimError("Claim.extension", f"hospital level missing: extension {HOSPITAL_LEVEL} (valueInteger 1–3)")


def _flags(claim: Claim) -> set[str]:
    """The claim attributes given as ``valueBoolean`` extensions that are true (absent: false)."""
    return {e["url"] for e in claim.get("extension") or [] if e.get("valueBoolean")}


def _diagnosis(claim: Claim) -> str:
    for entry in claim.get("diagnosis") or []:
        concept = entry.get("diagnosisCodeableConcept") or {}
        for coding in concept.get("coding") or []:
            if coding.get("system") in ICD10:
                return str(coding.get("code"))
    return ""


def cny(money: Any, where: str) -> Decimal:
    value: Decimal | None = money.get("value") if money else None
    if value is None:
        raise ClaimError(where, "an amount is required")
    if money.get("currency") not in (None, "CNY"):
        raise ClaimError(where, f"currency {money['currency']} is not CNY")
    return value


def _day(text: str, where: str) -> date:
    """The day of a FHIR date or dateTime; a partial date (``2025-03``, valid FHIR) cannot be settled."""
    if len(text) < len("YYYY-MM-DD"):
        raise ClaimError(where, f"{text!r}: settling needs the full date (YYYY-MM-DD)")
    return date.fromisoformat(text[:10])


@dataclass(frozen=True, slots=True)
class BillItem:
    """A Claim item as the settlement and the answer read it: its position and ``sequence``, its
    bill parts (codes in :data:`BILL_PART`), its ``net`` (yuan, exact) and the code of its product
    in the region's catalogue (:data:`CATALOGUE_CODE`), if it has one."""

    index: int
    sequence: int
    parts: tuple[str, ...]
    net: Decimal
    catalogue: str | None

    @property
    def self_pay(self) -> bool:
        """Wholly a self-pay part (全自费, 超限价 or 先行自付)."""
        return any(part in SELF_PAY for part in self.parts)


def bill_items(claim: Claim) -> tuple[BillItem, ...]:
    """The Claim's items, read once (each must carry its net amount in CNY)."""
    out = []
    for i, item in enumerate(claim.get("item") or []):
        net = cny(item.get("net"), f"Claim.item[{i}].net")
        catalogue = codes(item.get("productOrService"), CATALOGUE_CODE)
        parts = tuple(codes(item.get("category"), BILL_PART))
        out.append(BillItem(i, item["sequence"], parts, net, catalogue[0] if catalogue else None))
    return tuple(out)


def catalogued(claim: Claim, items: Sequence[BillItem], day: date) -> list[tuple[int, str, date, int, int]]:
    """The items to classify by the catalogue: (index, code, day, net fen, quantity in 1/10,000) of
    each item coded in :data:`CATALOGUE_CODE` and not already a bill part."""
    out, submitted = [], claim.get("item") or []
    for bill in items:
        if bill.catalogue is None or bill.parts:
            continue
        item = submitted[bill.index]
        serviced = item.get("servicedDate")
        served = _day(serviced, f"Claim.item[{bill.index}].servicedDate") if serviced else day
        quantity = (item.get("quantity") or {}).get("value")
        quantity = Decimal(1) if quantity is None else quantity
        out.append((bill.index, bill.catalogue, served, fen_of(bill.net), int(quantity * 10_000)))
    return out


def _parts(items: Sequence[BillItem], total: Decimal, classified: Classified) -> dict[str, Decimal]:
    parts = dict.fromkeys(SELF_PAY, Decimal(0))
    for item in items:
        for code in item.parts:
            if code in parts:
                parts[code] += item.net
        for part, fen in zip(SELF_PAY, classified.get(item.index, ()), strict=False):
            parts[part] += Decimal(fen) / 100
    summed = sum((item.net for item in items), Decimal(0))
    if items and summed != total:
        raise ClaimError("Claim.total", f"{total} is not the sum of the items' net ({summed})")
    return parts


def claim_day(claim: Claim) -> date:
    """The claim's date: ``billablePeriod.end``, else ``created``."""
    ended = (claim.get("billablePeriod") or {}).get("end")
    return _day(ended, "Claim.billablePeriod.end") if ended else _day(claim["created"], "Claim.created")


def claim_in(claim: Claim, person_id: str, items: Sequence[BillItem], classified: Classified | None = None) -> ClaimIn:
    """The native claim of a FHIR Claim of the person ``person_id`` (its patient, resolved by
    :func:`api.fhir_submit.patient_of`), its ``items`` (:func:`bill_items`), its catalogue items
    ``classified`` (see the module docstring)."""
    identifier = next((str(i["value"]) for i in claim.get("identifier") or [] if i.get("value")), None)
    identifier = identifier or claim.get("id")
    if not identifier:
        raise ClaimError("Claim.identifier", "a claim identifier (or id) is required")
    period = claim.get("billablePeriod") or {}
    ended, started = period.get("end"), period.get("start")
    when, where = (ended, "Claim.billablePeriod.end") if ended else (claim["created"], "Claim.created")
    total = cny(claim.get("total"), "Claim.total")
    flags = _flags(claim)
    fields = {
        "claim_id": identifier,
        "person_id": person_id,
        "med_type": _med_type(claim),
        "hospital_level": _level(claim),
        "settle_date": _day(when, where),
        "admission_date": _day(started, "Claim.billablePeriod.start") if started else None,
        "diagnosis": _diagnosis(claim),
        "accident": claim.get("accident") is not None,
        "out_of_area": OUT_OF_AREA in flags,
        "out_of_province": OUT_OF_PROVINCE in flags,
        "referral": claim.get("referral") is not None or REFERRAL in flags,
        "emergency": EMERGENCY in flags,
        "medfee_sumamt": total,
        **{f"{k}_amt" if k != "overlmt_selfpay" else k: v for k, v in _parts(items, total, classified or {}).items()},
    }
    try:
        return ClaimIn.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ClaimError(str(first["loc"][0]), first["msg"]) from exc


def request_text(claim: Claim, native: ClaimIn, items: Sequence[BillItem]) -> str:
    """What a Claim is remembered by under an ``Idempotency-Key``: what settling and answering it
    read — the native claim, ``use``, ``type`` and each item's sequence, bill part and net — so a
    retry serialised differently (spacing, key order, elements the service does not read) is the
    same request, and a changed amount is not."""
    bill = [(item.sequence, list(item.parts), str(item.net)) for item in items]
    kinds = [(c.get("system"), c.get("code")) for c in claim["type"].get("coding") or []]
    return f"{native.model_dump_json()}|{claim['use']}|{kinds}|{bill}"
