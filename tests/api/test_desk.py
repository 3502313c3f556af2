"""One validation for every protocol, done at the desk: the same refusals whether a claim comes as
native JSON, in the platform's envelope or as a FHIR Claim — each in its own error envelope —
and a refused claim leaves nothing behind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.api.helpers import buckets, claim, register
from tests.api.servers import ROOT, Server

EXAMPLES = ROOT / "examples"


def _native(person: str, **fields: Any) -> dict[str, Any]:
    return claim(person, **{"settle_date": "2025-03-01", **fields})


def _nhsa(person: str, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "nhsa" / "2304-settle.json").read_text(encoding="utf-8"))
    body |= {"fixmedins_code": "H-ONE", "msgid": uuid.uuid4().hex[:30]}
    body["input"]["data"] |= {"psn_no": person, "mdtrt_id": uuid.uuid4().hex[:20], **data}
    return body


def _fhir(person: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "fhir" / "claim.json").read_text(encoding="utf-8"))
    body["identifier"][0]["value"] = uuid.uuid4().hex
    body["patient"] = {"reference": f"Patient/{person}"}
    body["provider"] = {"reference": "Organization/H-ONE"}
    return body | fields


def _duplicated(body: dict[str, Any], key: str, first: Any) -> bytes:
    """``body`` as JSON with ``key`` written twice at the top level: ``first`` then its own value."""
    text = json.dumps(body)
    return ("{" + json.dumps(key) + ": " + json.dumps(first) + ", " + text[1:]).encode()


def _post(client: httpx.Client, path: str, content: bytes) -> httpx.Response:
    return client.post(path, content=content, headers={"content-type": "application/json"})


def test_a_duplicated_key_is_refused_on_every_protocol(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        native = _post(hospital, "/v1/settlements", _duplicated(_native(person), "medfee_sumamt", "1.00"))
        assert (native.status_code, native.json()["code"]) == (422, "invalid_request")
        assert "duplicate key 'medfee_sumamt'" in native.json()["detail"]
        envelope = _post(hospital, "/nhsa", _duplicated(_nhsa(person), "msgid", "X"))
        assert envelope.json()["infcode"] == -1
        assert "duplicate key 'msgid'" in envelope.json()["err_msg"]
        fhir = _post(hospital, "/fhir/Claim", _duplicated(_fhir(person), "use", "predetermination"))
        assert (fhir.status_code, fhir.json()["resourceType"]) == (422, "OperationOutcome")
        assert "duplicate key 'use'" in fhir.json()["issue"][0]["diagnostics"]
        assert set(buckets(hospital, person, 2025).values()) == {"0.00"}  # nothing settled


def test_a_future_date_is_refused_on_every_protocol(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        native = hospital.post("/v1/settlements", json=_native(person, settle_date="2099-01-01"))
        assert (native.status_code, native.json()["code"], native.json()["param"]) == (
            422, "settle_date_in_future", "settle_date",
        )  # fmt: skip
        envelope = hospital.post("/nhsa", json=_nhsa(person, setl_time="2611-06-10 09:30:00")).json()
        assert envelope["infcode"] == -1
        assert envelope["err_msg"].startswith("settle_date_in_future (settle_date)")
        fhir = _fhir(person, created="2099-01-01", billablePeriod={"end": "2099-01-01"})
        answer = hospital.post("/fhir/Claim", json=fhir)
        assert (answer.status_code, answer.json()["issue"][0]["code"]) == (422, "invalid")
        assert "settle_date_in_future" in answer.json()["issue"][0]["diagnostics"]


def test_money_is_ascii_digits_and_booleans_are_not_numbers(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        for field, value in [
            ("medfee_sumamt", "５００００.００"),  # fullwidth digits
            ("medfee_sumamt", "٥٠٠٠٠"),  # Arabic-Indic digits
            ("medfee_sumamt", "50_000"),
            ("medfee_sumamt", True),
            ("hospital_level", True),
            ("accident", 1),
        ]:
            answer = hospital.post("/v1/settlements", json=_native(person, **{field: value}))
            assert (answer.status_code, answer.json()["param"]) == (422, field), (field, value, answer.text)
        assert set(buckets(hospital, person, 2025).values()) == {"0.00"}


def test_a_partial_fhir_date_is_refused_naming_the_element(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        answer = hospital.post("/fhir/Claim", json=_fhir(person, billablePeriod={"end": "2025-03"}))
    assert answer.status_code == 422, answer.text
    issue = answer.json()["issue"][0]
    assert issue["expression"] == ["Claim.billablePeriod.end"]
    assert "full date" in issue["diagnostics"]


def test_a_hospital_tier_the_policy_lacks_is_refused_on_every_protocol(server: Server) -> None:
    """demo has tiers 1–3 (Bengbu's file declares six): tier 4 is refused by the desk, naming the
    field, on every protocol, and nothing is settled."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2025-01-01")
        native = hospital.post("/v1/settlements", json=_native(person, hospital_level=4))
        assert (native.status_code, native.json()["code"], native.json()["param"]) == (
            422, "unknown_hospital_tier", "hospital_level",
        )  # fmt: skip
        assert "is not a hospital tier of policy demo [1, 2, 3]" in native.json()["detail"]
        envelope = hospital.post("/nhsa", json=_nhsa(person, hosp_lv="4")).json()
        assert envelope["infcode"] == -1
        assert envelope["err_msg"].startswith("unknown_hospital_tier (hospital_level)")
        fhir = _fhir(person)
        fhir["extension"][0]["valueInteger"] = 4
        answer = hospital.post("/fhir/Claim", json=fhir)
        assert (answer.status_code, answer.json()["issue"][0]["code"]) == (422, "invalid")
        assert "unknown_hospital_tier" in answer.json()["issue"][0]["diagnostics"]
        assert set(buckets(hospital, person, 2025).values()) == {"0.00"}
