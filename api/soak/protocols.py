"""A claim as each protocol sends it, and what its answer says, for the soak's client.

Native JSON (``POST /v1/settlements``, ``Idempotency-Key``), the platform's envelope
(``POST /nhsa``: 2207 or 2304, ``msgid`` the key, reversal 2208/2305) and a FHIR Claim
(``POST /fhir/Claim``). An :class:`Answer` says whether the act was done, the settlement id, the
error code, and the part of the reply a retry must repeat byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

PROTOCOLS = ("native", "nhsa", "fhir")
BILL_PART = "https://medrelief.dev/fhir/CodeSystem/bill-part"
MED_TYPE = "https://medrelief.dev/fhir/CodeSystem/med_type"


@dataclass(frozen=True)
class Answer:
    """What the service answered: ``ok`` (done, or replayed), the settlement id, the refusal's
    code, the bytes a retry must repeat, the HTTP status."""

    ok: bool
    setl_id: str | None
    code: str | None
    replayable: bytes
    status: int


def nhsa_data(claim: dict[str, Any]) -> dict[str, Any]:
    return {
        "psn_no": claim["person_id"], "mdtrt_id": claim["claim_id"], "med_type": claim["med_type"],
        "medfee_sumamt": claim["medfee_sumamt"], "fulamt_ownpay_amt": claim["fulamt_ownpay_amt"],
        "overlmt_selfpay": claim["overlmt_selfpay"], "preselfpay_amt": claim["preselfpay_amt"],
        "hosp_lv": str(claim["hospital_level"]), "dise_codg": claim["diagnosis"], "insutype": "390",
        "setl_time": f"{claim['settle_date']} 10:00:00", "exp_content": {"accident": "1" if claim["accident"] else "0"},
    }  # fmt: skip


def envelope(infno: str, msgid: str, institution: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "320600", "infver": "V1.0", "opter_type": "1",
        "opter": "soak", "inf_time": "2024-12-31 10:00:00", "fixmedins_code": institution, "input": {"data": data},
    }  # fmt: skip


def _number(yuan: str | Decimal) -> float:
    """An amount as a JSON number, as FHIR writes decimals (exact: two decimals print back as written)."""
    return float(yuan)


def _item(sequence: int, code: str, net: str | Decimal) -> dict[str, Any]:
    category = {"coding": [{"system": BILL_PART, "code": code}]}
    return {"sequence": sequence, "productOrService": {"text": code}, "category": category,
            "net": {"value": _number(net)}}  # fmt: skip


def fhir_claim(claim: dict[str, Any]) -> dict[str, Any]:
    parts = ("fulamt_ownpay", "overlmt_selfpay", "preselfpay")
    own = {p: claim[f"{p}_amt" if p != "overlmt_selfpay" else p] for p in parts}
    inscp = Decimal(claim["medfee_sumamt"]) - sum((Decimal(v) for v in own.values()), Decimal(0))
    items = [_item(1, "inscp", inscp)] + [_item(2 + i, p, v) for i, (p, v) in enumerate(own.items())]
    resource: dict[str, Any] = {
        "resourceType": "Claim", "identifier": [{"system": "https://soak.example/claims", "value": claim["claim_id"]}],
        "status": "active", "use": "claim", "created": claim["settle_date"],
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
        "subType": {"coding": [{"system": MED_TYPE, "code": claim["med_type"]}]},
        "patient": {"reference": f"Patient/{claim['person_id']}"}, "billablePeriod": {"end": claim["settle_date"]},
        "provider": {"reference": "Organization/H-ONE"}, "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{claim['person_id']}"}}],
        "extension": [{"url": "https://medrelief.dev/fhir/StructureDefinition/hospital-level",
                       "valueInteger": claim["hospital_level"]}],
        "item": items, "total": {"value": _number(claim["medfee_sumamt"]), "currency": "CNY"},
    }  # fmt: skip
    if claim["diagnosis"]:
        coding = [{"system": "http://hl7.org/fhir/sid/icd-10", "code": claim["diagnosis"]}]
        resource["diagnosis"] = [{"sequence": 1, "diagnosisCodeableConcept": {"coding": coding}}]
    if claim["accident"]:
        resource["accident"] = {"date": claim["settle_date"]}
    return resource


def settle_request(protocol: str, claim: dict[str, Any], key: str, institution: str) -> tuple[str, Any, dict[str, str]]:
    """Where and what to post to settle ``claim`` under idempotency ``key`` (the ``msgid`` for the
    platform): the path, the JSON body, the headers."""
    if protocol == "nhsa":
        infno = "2304" if claim["med_type"] == "21" else "2207"
        return "/nhsa", envelope(infno, key, institution, nhsa_data(claim)), {}
    path = "/fhir/Claim" if protocol == "fhir" else "/v1/settlements"
    return path, fhir_claim(claim) if protocol == "fhir" else claim, {"Idempotency-Key": key}


def answer_of(protocol: str, response: httpx.Response) -> Answer:
    """What a settling request's response says, in any protocol."""
    return _nhsa(response) if protocol == "nhsa" else _rest(response, protocol)


def settle(client: httpx.Client, protocol: str, claim: dict[str, Any], key: str, institution: str) -> Answer:
    """Post ``claim`` to be settled under idempotency ``key``."""
    path, body, headers = settle_request(protocol, claim, key, institution)
    return answer_of(protocol, client.post(path, json=body, headers=headers))


def reverse(client: httpx.Client, protocol: str, setl_id: str, key: str, institution: str, inpatient: bool) -> Answer:
    if protocol == "nhsa":
        infno = "2305" if inpatient else "2208"
        return _nhsa(client.post("/nhsa", json=envelope(infno, key, institution, {"setl_id": setl_id})))
    return _rest(client.post(f"/v1/settlements/{setl_id}/reversal", headers={"Idempotency-Key": key}), "native")


def _nhsa(response: httpx.Response) -> Answer:
    if response.status_code != 200:
        return Answer(False, None, f"http {response.status_code}", b"", response.status_code)
    body = response.json()
    if body["infcode"] != 0:
        code = str(body.get("err_msg") or "").split(" ", 1)[0].split(":", 1)[0]
        return Answer(False, None, code, b"", 200)
    setl_id = (body.get("output") or {}).get("setlinfo", {}).get("setl_id")
    replayable = json.dumps({"output": body["output"], "warn_msg": body.get("warn_msg")}, sort_keys=True).encode()
    return Answer(True, setl_id, None, replayable, 200)


def _rest(response: httpx.Response, protocol: str) -> Answer:
    if response.status_code >= 400:
        body = response.json() if response.content else {}
        code = body.get("code") if protocol != "fhir" else _outcome_code(body)
        return Answer(False, None, code, b"", response.status_code)
    body = response.json()
    setl_id = body.get("id") if protocol == "fhir" else body.get("setl_id")
    return Answer(True, setl_id, None, response.content, response.status_code)


def _outcome_code(body: dict[str, Any]) -> str | None:
    issues = body.get("issue") or [{}]
    return str(issues[0].get("diagnostics", "")).split(":", 1)[0] or None
