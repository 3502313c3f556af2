"""FHIR as a standard client submits and reads: the Claim-submit forms (a Claim, a Parameters, a
Bundle with the resources the Claim references), every way to name the patient, the provider
checked, the submitted coverage echoed — and a HAPI-style round trip (read the CapabilityStatement,
submit, follow Location, read the ExplanationOfBenefit, sum the answers as a consumer does) — and
any value where a form holds an array answered as a refusal, never a server error."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.fhir_checks import validate
from tests.api.helpers import claim as native_claim
from tests.api.helpers import new_id, register
from tests.api.servers import ROOT, Server

EXAMPLES = ROOT / "examples" / "fhir"
ID_NUMBER = "https://medrelief.dev/fhir/sid/id-number"
PERSON_ID = "https://medrelief.dev/fhir/sid/person-id"
FUNDS = "https://medrelief.dev/fhir/CodeSystem/fund_pay_type"
FHIR = {"content-type": "application/fhir+json"}


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def _claim(person: str | None = None) -> dict[str, Any]:
    claim = _example("claim")
    claim["identifier"][0]["value"] = new_id("FC")
    claim["provider"] = {"reference": "Organization/H-ONE"}
    if person:
        claim["patient"] = {"reference": f"Patient/{person}"}
    return claim


def _sums(resource: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """What a consumer sums: Σ total[benefit], Σ the funds' entries, and the payment."""

    def amount(entry: dict[str, Any]) -> Decimal:
        return Decimal(str(entry["amount"]["value"]))

    benefit = sum((amount(t) for t in resource["total"] if t["category"]["coding"][0]["code"] == "benefit"), Decimal(0))
    funds = sum((amount(t) for t in resource["total"] if t["category"]["coding"][0]["system"] == FUNDS), Decimal(0))
    return benefit, funds, Decimal(str(resource["payment"]["amount"]["value"]))


def test_parameters_and_bundle_forms_settle_like_the_claim(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        plain = register(admin, "dibao", "2025-01-01")
        by_claim = hospital.post("/fhir/Claim/$submit", json=_claim(plain), headers=FHIR)
        parameters = _example("parameters")
        parameters["parameter"][0]["resource"] = _claim(register(admin, "dibao", "2025-01-01"))
        by_parameters = hospital.post("/fhir/Claim/$submit", json=parameters, headers=FHIR)
        bundled = register_with_id_number(admin, "dibao")
        bundle = _example("bundle")
        bundle["entry"][0]["resource"]["identifier"][0]["value"] = new_id("FC")
        bundle["entry"][0]["resource"]["provider"] = {"reference": "Organization/H-ONE"}
        bundle["entry"][1]["resource"]["identifier"][0]["value"] = bundled[1]
        by_bundle = hospital.post("/fhir/Claim/$submit", json=bundle, headers=FHIR)
    answers = [by_claim, by_parameters, by_bundle]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    for answer in answers:
        validate(answer.json())
        benefit, funds, paid = _sums(answer.json())
        assert benefit == funds == paid == Decimal("57696.25")
    assert by_bundle.json()["patient"]["reference"] == f"Patient/{bundled[0]}"
    coverage = by_bundle.json()["insurance"][0]["coverage"]
    assert coverage["reference"] == "urn:uuid:6b1f0c1e-4c1a-4d0e-9a54-2f1e8f0f0002"  # the submitted coverage, echoed
    assert coverage["identifier"] == {"system": FUNDS, "value": "390100"}


def register_with_id_number(admin: httpx.Client, category: str) -> tuple[str, str]:
    person, number = new_id("P"), f"1101011990{new_id('x')[-8:].translate(str.maketrans('abcdef', '123456'))}"
    body = {"person_id": person, "name": "李四", "id_number": number,
            "identities": [{"category": category, "valid_from": "2025-01-01"}]}  # fmt: skip
    assert admin.post("/v1/persons", json=body).status_code == 201
    return person, number


def test_every_way_to_name_the_patient(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        ways = {}
        person = register(admin, "dibao", "2025-01-01")
        absolute = _claim()
        absolute["patient"] = {"reference": f"{server.base_url}/fhir/Patient/{person}"}
        ways["absolute"] = (absolute, person)
        person, number = register_with_id_number(admin, "dibao")
        by_number = _claim()
        by_number["patient"] = {"identifier": {"system": ID_NUMBER, "value": number}}
        ways["identifier"] = (by_number, person)
        person = register(admin, "dibao", "2025-01-01")
        contained = _claim()
        contained["contained"] = [
            {"resourceType": "Patient", "id": "p", "identifier": [{"system": PERSON_ID, "value": person}]}
        ]
        contained["patient"] = {"reference": "#p"}
        ways["contained"] = (contained, person)
        answers = {name: hospital.post("/fhir/Claim", json=claim, headers=FHIR) for name, (claim, _) in ways.items()}
        unknown = _claim()
        unknown["patient"] = {"identifier": {"system": "urn:oid:1.2.3", "value": "x"}}
        refused = hospital.post("/fhir/Claim", json=unknown, headers=FHIR)
        nobody = _claim()
        nobody["patient"] = {"identifier": {"system": ID_NUMBER, "value": "110101190001010000"}}
        missing = hospital.post("/fhir/Claim", json=nobody, headers=FHIR)
        other = _claim(register(admin, "dibao", "2025-01-01"))
        other["provider"] = {"reference": "Organization/H-TWO"}
        foreign = hospital.post("/fhir/Claim", json=other, headers=FHIR)
    for name, answer in answers.items():
        assert answer.status_code == 201, (name, answer.text)
        assert answer.json()["patient"]["reference"] == f"Patient/{ways[name][1]}", name
    assert (refused.status_code, refused.json()["issue"][0]["expression"]) == (422, ["Claim.patient.identifier.system"])
    assert missing.status_code == 404
    assert foreign.status_code == 403
    assert "provider H-TWO" in foreign.json()["issue"][0]["diagnostics"]
    for answer in (refused, missing, foreign):
        validate(answer.json())


def test_a_hapi_style_round_trip(server: Server) -> None:
    """As HAPI's generic client goes: metadata first (no key), then create, then read what
    Location names, then the EOB — and a consumer's arithmetic holds on each."""
    with httpx.Client(base_url=server.base_url) as anonymous:
        capability = anonymous.get("/fhir/metadata").json()
    validate(capability)
    offered = {r["type"]: {i["code"] for i in r.get("interaction", [])} for r in capability["rest"][0]["resource"]}
    assert {"create", "read"} <= offered["Claim"]
    assert {"read"} <= offered["ClaimResponse"]
    assert {"read"} <= offered["ExplanationOfBenefit"]
    with server.client("admin") as admin, server.client() as hospital:
        submitted = _claim(register(admin, "dibao", "2025-01-01"))
        submitted["insurance"][0]["coverage"] = {"reference": "Coverage/CV-7"}
        created = hospital.post("/fhir/Claim", json=submitted, headers=FHIR)
        assert created.status_code == 201
        setl_id = created.json()["id"]
        read = hospital.get(created.headers["location"])
        eob = hospital.get(f"/fhir/ExplanationOfBenefit/{setl_id}")
        claim = hospital.get(f"/fhir/Claim/{setl_id}").json()
        assert hospital.post(f"/v1/settlements/{setl_id}/reversal").status_code == 201
        cancelled = hospital.get(f"/fhir/Claim/{setl_id}").json()
    validate(read.json(), eob.json(), claim, cancelled)
    assert claim == {**submitted, "id": setl_id}  # the Claim as it was sent, under the settlement's id
    assert cancelled == {**submitted, "id": setl_id, "status": "cancelled"}
    for answer in (read.json(), eob.json()):  # the coverage the Claim named, echoed on the focal payer
        assert answer["insurance"][0]["coverage"]["reference"] == "Coverage/CV-7"
    assert _sums(read.json()) == _sums(created.json()) == _sums(eob.json())
    for balance in eob.json()["benefitBalance"]:
        (financial,) = balance["financial"]
        assert financial["allowedMoney"]["value"] >= financial["usedMoney"]["value"]


def test_a_claim_settled_by_another_protocol_reads_as_the_services_record(server: Server) -> None:
    """A claim settled natively has no submitted Claim: its read is the service's record — the bill
    as items (the in-policy part, then each self-pay part) adding up to its total."""
    with server.client("admin") as admin, server.client() as hospital:
        settled = hospital.post("/v1/settlements", json=native_claim(register(admin, "dibao", "2024-01-01"))).json()
        record = hospital.get(f"/fhir/Claim/{settled['setl_id']}").json()
    validate(record)
    assert record["id"] == settled["setl_id"]
    assert record["identifier"][0]["value"] == settled["claim_id"]
    assert [i["net"]["value"] for i in record["item"]] == [49000, 1000]
    assert record["total"]["value"] == 50000
    assert [i["category"]["coding"][0]["code"] for i in record["item"] if "category" in i] == ["fulamt_ownpay"]


def test_items_coded_in_the_catalogue_are_split_into_their_parts(server: Server) -> None:
    """examples/fhir/claim-catalogue.json: the six rows of tests/api/test_nhsa_details.py as Claim
    items coded in the (illustrative) catalogue — 全自费 166.66, 超限价 1,800.00, 先行自付 1,713.89,
    in-policy 13,225.99 — settle as the native API settles the same parts, and each item's eligible
    amount is its in-policy part."""
    import os

    from tests.api.servers import medrelief

    env = {**os.environ, "DATABASE_URL": server.database_url}
    assert (
        medrelief(env, "catalogue", "load", str(ROOT / "examples" / "catalogue" / "demo-catalogue.csv")).returncode == 0
    )
    with server.client("admin") as admin, server.client() as hospital:
        claim = _example("claim-catalogue")
        claim["identifier"][0]["value"] = new_id("FC")
        claim["provider"] = {"reference": "Organization/H-ONE"}
        claim["patient"] = {"reference": f"Patient/{register(admin, 'dibao', '2025-01-01')}"}
        answer = hospital.post("/fhir/Claim", json=claim, headers=FHIR)
        native = {"claim_id": new_id("C"), "person_id": register(admin, "dibao", "2025-01-01"), "med_type": "21",
                  "hospital_level": 2, "settle_date": "2025-03-01", "admission_date": "2025-02-20",
                  "diagnosis": "J18.9", "medfee_sumamt": "16906.54", "fulamt_ownpay_amt": "166.66",
                  "overlmt_selfpay": "1800.00", "preselfpay_amt": "1713.89"}  # fmt: skip
        same = hospital.post("/v1/settlements/pre", json=native).json()
    assert answer.status_code == 201, answer.text
    response = answer.json()
    validate(response)
    total = {t["category"]["coding"][0]["code"]: Decimal(str(t["amount"]["value"])) for t in response["total"]}
    assert total["eligible"] == Decimal("13225.99") == Decimal(same["inscp_scp_amt"])
    assert total["benefit"] == Decimal(same["fund_pay_sumamt"])
    assert total["patient-share"] == Decimal(same["psn_part_amt"])
    eligible = {
        i["itemSequence"]: Decimal(str(a["amount"]["value"]))
        for i in response["item"]
        for a in i["adjudication"]
        if a["category"]["coding"][0]["code"] == "eligible"
    }
    assert eligible == {1: Decimal("51"), 2: Decimal("7999.99"), 3: Decimal("500"), 4: Decimal("4675"), 5: 0, 6: 0}
    for code in ("benefit", "patient-share", "deductible"):
        items = sum(
            (Decimal(str(a["amount"]["value"])) for i in response["item"] for a in i["adjudication"]
             if a["category"]["coding"][0]["code"] == code),
            Decimal(0),
        )  # fmt: skip
        assert items == total[code], code


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
"""Any JSON value."""


def _form(where: str, value: Any) -> dict[str, Any]:
    """A submission holding ``value`` where one of its forms holds an array (or a resource)."""
    claim = _claim()
    if where == "Claim.contained":
        return {**claim, "contained": value}
    if where == "Patient.identifier":
        patient = {"resourceType": "Patient", "id": "p", "identifier": value}
        return {**claim, "contained": [patient], "patient": {"reference": "#p"}}
    if where == "Bundle.entry":
        return {"resourceType": "Bundle", "entry": value}
    if where == "Bundle.entry.resource":
        return {"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:1", "resource": value}]}
    return {"resourceType": "Parameters", "parameter": value}


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(
        ["Claim.contained", "Patient.identifier", "Bundle.entry", "Bundle.entry.resource", "Parameters.parameter"]
    ),
    JSON,
)
def test_any_value_where_a_form_holds_an_array_is_refused_never_a_server_error(
    server: Server, where: str, value: Any
) -> None:
    with server.client() as hospital:
        answer = hospital.post("/fhir/Claim/$submit", json=_form(where, value), headers=FHIR)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        validate(answer.json())
