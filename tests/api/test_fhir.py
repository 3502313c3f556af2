"""FHIR R4: a Claim → ClaimResponse that validates (fhir.resources R4B) and matches the native API to the fen.

The sample claim is the hand-checked 低保 inpatient of tests/api/test_nhsa.py with 1,000.00 of
全自费 on top: basic 47,600.00, 大病 3,185.00, 救助 6,911.25; the patient pays 3,303.75.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import httpx

from tests.api.fhir_checks import validate
from tests.api.helpers import new_id, register
from tests.api.servers import ROOT, Server

EXAMPLES = ROOT / "examples" / "fhir"
FUNDS = ("390100", "390200", "610100", "999109")


def sample(name: str, person: str) -> dict[str, Any]:
    claim: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    claim["patient"]["reference"] = f"Patient/{person}"
    claim["identifier"][0]["value"] = new_id("FC")
    claim["provider"] = {"reference": "Organization/H-ONE"}  # the test server's hospital key
    return claim


def totals(resource: dict[str, Any]) -> dict[str, Decimal]:
    """category code (a fund's: its fund_pay_type) → amount; one entry per category."""
    out = {}
    for entry in resource["total"]:
        code = entry["category"]["coding"][0]["code"]
        assert code not in out, code
        out[code] = Decimal(str(entry["amount"]["value"]))
    return out


def _code(concept: dict[str, Any]) -> str:
    return str(concept["coding"][0]["code"])


def post(client: httpx.Client, body: dict[str, Any], path: str = "/fhir/Claim") -> httpx.Response:
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/fhir+json"})


def test_claim_settles_and_matches_the_native_api(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        answer = post(hospital, sample("claim", person))
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"].startswith("application/fhir+json")
        response = answer.json()
        validate(response)
        assert answer.headers["location"] == f"{server.base_url}/fhir/ClaimResponse/{response['id']}"
        read_back = hospital.get(answer.headers["location"]).json()
        validate(read_back)
        assert (totals(read_back), read_back["status"]) == (totals(response), "active")
        twin = register(admin, "dibao", "2025-01-01")
        native = {"claim_id": new_id("C"), "person_id": twin, "med_type": "21", "hospital_level": 2}
        native |= {"settle_date": "2025-03-01", "diagnosis": "J18.9", "medfee_sumamt": "61000.00"}
        native |= {"fulamt_ownpay_amt": "1000.00"}
        same = hospital.post("/v1/settlements/pre", json=native).json()
    got = totals(response)
    assert got["submitted"] == Decimal("61000") == Decimal(same["medfee_sumamt"])
    assert got["eligible"] == Decimal("60000") == Decimal(same["inscp_scp_amt"])
    assert got["deductible"] == Decimal("500") == Decimal(same["act_pay_dedc"])
    assert got["390100"] == Decimal("47600") == Decimal(same["hifp_pay"])
    assert got["390200"] == Decimal("3185") == Decimal(same["hifmi_pay"])
    assert got["610100"] == Decimal("6911.25") == Decimal(same["maf_pay"])
    assert got["999109"] == Decimal(0) == Decimal(same["supp_pay"])
    assert got["benefit"] == Decimal("57696.25") == Decimal(same["fund_pay_sumamt"])
    assert sum(got[f] for f in FUNDS) == got["benefit"] == Decimal(str(response["payment"]["amount"]["value"]))
    assert [i["coverage"]["identifier"]["value"] for i in response["insurance"]] == list(FUNDS)
    assert got["patient-share"] == Decimal("3303.75") == Decimal(same["psn_part_amt"])
    assert response["outcome"] == "complete"
    assert response["use"] == "claim"
    items = {
        i["itemSequence"]: {_code(a["category"]): a["amount"]["value"] for a in i["adjudication"]}
        for i in response["item"]
    }
    assert items[2]["eligible"] == 0  # the 全自费 item
    assert items[1]["eligible"] == 60000
    assert items[1]["deductible"] == 500
    assert items[1]["patient-share"] == 2303.75  # the in-policy item's share; the 全自费 item bears 1,000.00


def test_submit_operation_predetermination_stores_nothing(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        answer = post(hospital, sample("predetermination", person), "/fhir/Claim/$submit")
        assert answer.status_code == 200, answer.text
        response = answer.json()
        validate(response)
        assert response["use"] == "predetermination"
        assert "identifier" not in response
        assert "payment" not in response
        assert "nothing stored" in response["disposition"]
        assert totals(response)["610100"] == Decimal("6911.25")
        used = hospital.get(f"/v1/persons/{person}/accumulators", params={"year": 2025}).json()
    assert {b["paid_cum"] for b in used["buckets"]} == {"0.00"}


def test_a_trial_is_told_apart_in_any_form_and_a_malformed_form_is_refused(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        trial = sample("predetermination", person)
        wrapped = post(hospital, {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": trial}]})
        contained = {**sample("claim", person), "contained": 5}
        forms: list[dict[str, Any]] = [{"resourceType": "Parameters", "parameter": p} for p in ("resource", [1])]
        forms += [{"resourceType": "Bundle", "entry": 5}, contained]
        malformed = [post(hospital, form) for form in forms]
        asked = sample("claim", person)
        asked["use"] = "preauthorization"
        preauthorization = post(hospital, asked)
        used = hospital.get(f"/v1/persons/{person}/accumulators", params={"year": 2025}).json()
    assert wrapped.status_code == 200, wrapped.text
    assert "nothing stored" in wrapped.json()["disposition"]
    assert [m.status_code for m in malformed] == [422, 422, 422, 422], [m.text for m in malformed]
    assert "Claim.contained: an array is required" in malformed[3].json()["issue"][0]["diagnostics"]
    for answer in [*malformed, preauthorization]:
        validate(answer.json())
    assert preauthorization.status_code == 422
    assert "only claim and predetermination" in preauthorization.json()["issue"][0]["diagnostics"]
    assert {b["paid_cum"] for b in used["buckets"]} == {"0.00"}


def test_explanation_of_benefit_shows_what_is_left_of_each_cap(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        settled = post(hospital, sample("claim", person)).json()
        read = hospital.get(f"/fhir/ExplanationOfBenefit/{settled['id']}")
        later = post(hospital, sample("claim", person)).json()  # a later claim does not change this EOB
        again = hospital.get(f"/fhir/ExplanationOfBenefit/{settled['id']}").json()
        assert hospital.post(f"/v1/settlements/{settled['id']}/reversal").status_code == 201
        cancelled = hospital.get(f"/fhir/ExplanationOfBenefit/{settled['id']}").json()
        response = hospital.get(f"/fhir/ClaimResponse/{settled['id']}").json()
    assert read.status_code == 200, read.text
    eob = read.json()
    validate(eob)
    assert totals(eob) == totals(settled)
    assert later["id"] != settled["id"]
    assert again["benefitBalance"] == eob["benefitBalance"]
    balance = {_code(b["category"]): b for b in eob["benefitBalance"]}
    basic = balance["basic.inpatient"]["financial"][0]
    assert _code(basic["type"]) == "benefit"
    assert basic["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/benefit-type"
    assert _code(balance["basic.inpatient"]["term"]) == "annual"
    # a consumer computes allowed − used = left: 250,000 − 47,600 = 202,400
    assert (basic["allowedMoney"]["value"], basic["usedMoney"]["value"]) == (250000, 47600)
    assistance = balance["assistance.assistance"]["financial"][0]
    assert assistance["allowedMoney"]["value"] - assistance["usedMoney"]["value"] == 18088.75  # 25,000 − 6,911.25
    assert (eob["status"], cancelled["status"]) == ("active", "cancelled")
    validate(cancelled)
    validate(response)
    assert response["status"] == "cancelled"
    assert totals(response) == totals(settled)


def test_errors_are_operation_outcomes(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        no_level = sample("claim", person)
        no_level.pop("extension")
        bad = post(hospital, no_level)
        unknown = post(hospital, sample("claim", "NOBODY"))
        broken = copy.deepcopy(sample("claim", person))
        broken["total"]["value"] = 60000.5
        mismatch = post(hospital, broken)
        not_a_claim = post(hospital, {"resourceType": "Patient"})
    assert bad.status_code == 422
    validate(bad.json())
    issue = bad.json()["issue"][0]
    assert "hospital level" in issue["diagnostics"]
    assert issue["expression"] == ["Claim.extension"]
    assert unknown.status_code == 404
    validate(unknown.json())
    assert unknown.json()["issue"][0]["code"] == "not-found"
    assert mismatch.status_code == 422
    assert "not the sum of the items" in mismatch.json()["issue"][0]["diagnostics"]
    assert not_a_claim.status_code == 422


def test_items_share_each_layer_pro_rata_to_the_fen(server: Server) -> None:
    """The in-policy 60,000.00 billed as two items of 36,000.00 and 24,000.00 (60% / 40%): basic
    47,600.00 → 28,560.00 + 19,040.00; 大病 3,185.00 → 1,911.00 + 1,274.00; 救助 6,911.25 →
    4,146.75 + 2,764.50; deductible 500.00 → 300.00 + 200.00."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        claim = sample("claim", person)
        first = claim["item"][0]
        second = {**first, "sequence": 3, "net": {"value": 24000.00, "currency": "CNY"}}
        claim["item"] = [{**first, "net": {"value": 36000.00, "currency": "CNY"}}, claim["item"][1], second]
        response = post(hospital, claim).json()
    validate(response)
    by_item = {}
    for item in response["item"]:
        by_item[item["itemSequence"]] = {
            _code(a["category"]): Decimal(str(a["amount"]["value"])) for a in item["adjudication"]
        }
    assert (by_item[1]["390100"], by_item[3]["390100"]) == (Decimal("28560"), Decimal("19040"))
    assert (by_item[1]["390200"], by_item[3]["390200"]) == (Decimal("1911"), Decimal("1274"))
    assert (by_item[1]["610100"], by_item[3]["610100"]) == (Decimal("4146.75"), Decimal("2764.5"))
    assert (by_item[1]["deductible"], by_item[3]["deductible"]) == (Decimal("300"), Decimal("200"))
    assert by_item[2]["patient-share"] == Decimal("1000")  # the 全自费 item
    total = totals(response)
    for column in (*FUNDS, "benefit", "deductible", "patient-share", "submitted", "eligible"):
        assert sum(amounts.get(column, Decimal(0)) for amounts in by_item.values()) == total[column], column


def test_a_retry_serialised_differently_is_the_same_request(server: Server) -> None:
    """A client's retry may come from another serialiser (spacing, key order): it replays; a
    changed resource under the same key is refused."""
    with server.client("admin") as admin, server.client() as hospital:
        claim = sample("claim", register(admin, "dibao", "2025-01-01"))
        headers = {"Content-Type": "application/fhir+json", "Idempotency-Key": new_id("K")}
        first = hospital.post("/fhir/Claim", content=json.dumps(claim), headers=headers)
        again = json.dumps(dict(reversed(list(claim.items()))), indent=2, ensure_ascii=False)
        retry = hospital.post("/fhir/Claim", content=again, headers=headers)
        changed = copy.deepcopy(claim)
        changed["item"][0]["net"]["value"] += 1
        changed["total"]["value"] += 1
        refused = hospital.post("/fhir/Claim", content=json.dumps(changed), headers=headers)
    assert first.status_code == 201, first.text
    assert (retry.status_code, retry.headers.get("Idempotent-Replayed")) == (201, "true")
    assert retry.content == first.content
    assert refused.status_code == 422
    assert "idempotency_key_reused" in refused.text


def test_metadata_is_a_capability_statement_a_client_can_read_without_a_key(server: Server) -> None:
    """HAPI's generic client reads /metadata before its first call: it must answer, keyless, a valid
    CapabilityStatement naming what is offered."""
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    with httpx.Client(base_url=server.base_url) as anonymous:
        response = anonymous.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert CapabilityStatement.model_validate(response.json()).fhirVersion == "4.0.1"  # valid, R4
    validate(response.json())
    offered = {r["type"]: r for r in response.json()["rest"][0]["resource"]}
    assert {"Claim", "ClaimResponse", "ExplanationOfBenefit"} <= set(offered)
    assert offered["Claim"]["operation"][0]["name"] == "submit"
