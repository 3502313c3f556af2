"""The one-stop flow through a real HTTP server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from api.config import Settings
from api.main import create_app
from api.routes import settlements
from tests.api.helpers import buckets, claim, register
from tests.api.servers import Server


def test_pre_settlement_stores_nothing(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        hospital.post("/v1/settlements", json=claim(person, settle_date="2024-03-01")).raise_for_status()
        before = buckets(hospital, person)
        later = claim(person)
        response = hospital.post("/v1/settlements/pre", json=later)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["setl_id"], body["kind"], body["status"]) == (None, "pre_settlement", "not_stored")
        assert body["category"] == "dibao"
        assert buckets(hospital, person) == before
        assert hospital.post("/v1/settlements/pre", json=later).content == response.content
        # the settlement that follows pays what the trial said (same year-to-date accumulators)
        settled = hospital.post("/v1/settlements", json=later).json()
        varying = {"setl_id", "kind", "status", "lines"}
        assert {k: v for k, v in settled.items() if k not in varying} == {
            k: v for k, v in body.items() if k not in varying
        }
        assert settled["lines"] == body["lines"]
        assert buckets(hospital, person) != before


def _reads_caller_and_body_by_hand(hospital: httpx.Client, path: str, person: str, ok: int) -> None:
    """What a hot route that reads its own request answers as FastAPI would: a missing field named,
    the key also from ``X-API-Key``, 401 before a broken body."""
    missing = hospital.post(path, json={k: v for k, v in claim(person).items() if k != "med_type"})
    assert (missing.status_code, missing.json()["param"]) == (422, "med_type")
    key = hospital.headers["Authorization"].removeprefix("Bearer ")
    by_x_api_key = {"Authorization": "", "X-API-Key": key}
    assert hospital.post(path, json=claim(person), headers=by_x_api_key).status_code == ok
    anonymous = hospital.post(path, content=b"{not json", headers={"Authorization": ""})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")  # before the body


def test_pre_settle_reads_its_caller_and_body_as_fastapi_would(server: Server) -> None:
    """The pre-settlement route reads the caller and body by hand (speed): same answers."""
    with server.client("admin") as admin, server.client() as hospital, server.client("actuary") as actuary:
        person = register(admin)
        _reads_caller_and_body_by_hand(hospital, "/v1/settlements/pre", person, 200)
        unknown = hospital.post("/v1/settlements/pre", json=claim("P-nobody"))
        assert (unknown.status_code, unknown.json()["code"]) == (404, "person_not_found")
        refused = actuary.post("/v1/settlements/pre", json=claim(person))
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")


def test_settlement_amounts_are_the_engines_and_add_up(server: Server) -> None:
    """dibao, level-3 inpatient, C50 (major disease), 50,000 total, 1,000 全自费, first claim of 2024."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        response = hospital.post("/v1/settlements", json=claim(person))
        assert response.status_code == 201, response.text
        body = response.json()
        # inscp 49,000; basic: deductible 800, 70% of 48,200 = 33,740; critical illness (tilted): base
        # 15,260 − 7,500 = 7,760 at 65% = 5,044; assistance (major, 90%): 10,216 × 90% = 9,194.40;
        # supplementary 98% of 1,021.60 = 1,001.168 → 1,001.17.
        expected = {"hifp_pay": "33740.00", "hifmi_pay": "5044.00", "maf_pay": "9194.40", "supp_pay": "1001.17"}
        assert {k: body[k] for k in expected} == expected
        assert body["act_pay_dedc"] == "800.00"
        total = sum(Decimal(body[k]) for k in expected) + Decimal(body["psn_part_amt"])
        assert total == Decimal(body["medfee_sumamt"])
        assert [line["output"] for line in body["lines"]] == ["hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"]
        assert body["lines"][0]["fund_pay_type"] == "390100"
        assert body["lines"][2]["cap_left"] == "20805.60"
        read = hospital.get(f"/v1/settlements/{body['setl_id']}")
        assert read.status_code == 200
        assert {k: read.json()[k] for k in expected} == expected


def test_idempotency_replays_refuses_and_never_pays_twice(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        body = claim(person)
        first = hospital.post("/v1/settlements", json=body, headers={"Idempotency-Key": "k-" + body["claim_id"]})
        again = hospital.post("/v1/settlements", json=body, headers={"Idempotency-Key": "k-" + body["claim_id"]})
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        other = hospital.post(
            "/v1/settlements",
            json={**body, "medfee_sumamt": "60000.00"},
            headers={"Idempotency-Key": "k-" + body["claim_id"]},
        )
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"
        assert buckets(hospital, person)[("basic", "inpatient")] == "33740.00"
        duplicate = hospital.post("/v1/settlements", json=body)
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "already_settled"


def test_reversal_restores_accumulators_once_and_only_for_the_owner(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital, server.client("hospital2") as other:
        person = register(admin)
        before = buckets(hospital, person)
        setl_id = hospital.post("/v1/settlements", json=claim(person)).json()["setl_id"]
        assert other.post(f"/v1/settlements/{setl_id}/reversal").status_code == 404
        assert other.get(f"/v1/settlements/{setl_id}").status_code == 404
        reversed_ = hospital.post(f"/v1/settlements/{setl_id}/reversal", headers={"Idempotency-Key": "rev-" + setl_id})
        assert reversed_.status_code == 201, reversed_.text
        assert (reversed_.json()["kind"], reversed_.json()["hifp_pay"]) == ("reversal", "-33740.00")
        replay = hospital.post(f"/v1/settlements/{setl_id}/reversal", headers={"Idempotency-Key": "rev-" + setl_id})
        assert replay.content == reversed_.content
        twice = hospital.post(f"/v1/settlements/{setl_id}/reversal")
        assert (twice.status_code, twice.json()["code"]) == (409, "already_reversed")
        assert buckets(hospital, person) == before
        assert hospital.get(f"/v1/settlements/{setl_id}").json()["status"] == "reversed"


def test_claims_settle_in_arrival_order_whatever_their_dates(server: Server) -> None:
    """A claim dated before the person's last one is settled, not refused: in arrival order, as the
    platform does (the date decides the year and the parameter version) — the second admission of
    the year gets the repeat deductible (400.00, half of 800.00) though its date is earlier."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        first = hospital.post("/v1/settlements", json=claim(person, settle_date="2024-06-01"))
        late = hospital.post("/v1/settlements", json=claim(person, settle_date="2024-05-01"))
        assert (first.status_code, late.status_code) == (201, 201), late.text
        assert (first.json()["act_pay_dedc"], late.json()["act_pay_dedc"]) == ("800.00", "400.00")
        future = hospital.post("/v1/settlements", json=claim(person, settle_date="9999-12-31"))
        assert (future.status_code, future.json()["code"], future.json()["param"]) == (
            422, "settle_date_in_future", "settle_date",
        )  # fmt: skip


def test_errors_are_problem_json_naming_the_field(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        cases = {
            "medfee_sumamt": claim(person, medfee_sumamt="1.234"),
            "med_type": claim(person, med_type="99"),
            "hospital_level": claim(person, hospital_level=4),
            "settle_date": claim(person, settle_date="2024-02-30"),
        }
        for param, body in cases.items():
            response = hospital.post("/v1/settlements", json=body)
            assert response.status_code == 422, (param, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["param"] == param
        components = hospital.post("/v1/settlements", json=claim(person, fulamt_ownpay_amt="60000.00"))
        assert (components.json()["code"], components.json()["param"]) == ("invalid_claim", "medfee_sumamt")
        unknown = hospital.post("/v1/settlements", json=claim("nobody"))
        assert (unknown.status_code, unknown.json()["code"]) == (404, "person_not_found")
        assert (
            hospital.post(
                "/v1/settlements", content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )


def _chunks(size: int) -> Iterator[bytes]:
    """A body of ``size`` bytes sent without a Content-Length (chunked)."""
    for _ in range(size // 65_536):
        yield b" " * 65_536


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: Server) -> None:
    too_large = 2**20 + 1
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        padded = json.dumps(claim(person)).encode() + b" " * too_large  # valid JSON, only too long
        bodies: list[tuple[str, bytes | Iterator[bytes]]] = [
            ("/v1/settlements", padded),
            ("/v1/persons", padded),
            ("/v1/settlements", _chunks(2**21)),
        ]
        for path, body in bodies:
            response = hospital.post(path, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 413, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "content_too_large"
            assert "at most 1,048,576 bytes" in response.json()["detail"]
        envelope = hospital.post("/nhsa", content=b" " * too_large, headers={"content-type": "application/json"})
        assert envelope.json()["infcode"] == -1
        assert "content_too_large" in envelope.json()["err_msg"]
        assert buckets(hospital, person) == buckets(hospital, register(admin))  # nothing was settled
        assert hospital.post("/v1/settlements", json=claim(person)).status_code == 201  # and it still serves
    with server.client("insurer") as insurer:  # an insurer's payout rows may be longer
        rows = [{"setl_id": f"S{i:059d}", "hifp_pay": "0.00"} for i in range(20_000)]
        reconciled = insurer.post(
            "/v1/reconciliations", json={"from": "2024-01-01", "to": "2024-12-31", "rows": rows, "fields": ["hifp_pay"]}
        )
        assert len(reconciled.request.content) > too_large
        assert reconciled.status_code == 200, reconciled.text


def test_settle_reads_its_headers_and_body_as_fastapi_would(server: Server) -> None:
    """The settle route reads the caller, Idempotency-Key and body by hand (speed): same answers."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        for bad_key in ("", "has space", "x" * 129):
            response = hospital.post("/v1/settlements", json=claim(person), headers={"Idempotency-Key": bad_key})
            assert (response.status_code, response.json()["param"]) == (422, "Idempotency-Key"), bad_key
        _reads_caller_and_body_by_hand(hospital, "/v1/settlements", person, 201)


def test_keys_and_scopes(server: Server) -> None:
    with server.client() as hospital, server.client("actuary") as actuary:
        assert hospital.get("/v1/policies", headers={"Authorization": "Bearer mr_nope_nope"}).status_code == 401
        anonymous = hospital.get("/v1/policies", headers={"Authorization": ""})
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
        refused = actuary.post("/v1/settlements", json=claim("P-x"))
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        assert hospital.post("/v1/persons", json={"person_id": "P-y"}).status_code == 403
        assert actuary.get("/v1/policies/demo", params={"date": "2024-07-01"}).status_code == 200


def test_person_id_number_is_masked_and_slip_shows_each_layer(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        assert admin.get(f"/v1/persons/{person}").json()["id_number"] == "110101********1234"
        setl_id = hospital.post("/v1/settlements", json=claim(person)).json()["setl_id"]
        slip = hospital.get(f"/v1/settlements/{setl_id}/slip")
        assert slip.status_code == 200
        shown = ("基本医保统筹基金", "城乡居民大病保险", "医疗救助", "低补保", "低保对象", "普通住院", "三级", "住院")
        for text in (*shown, "33,740.00", "1,001.17"):
            assert text in slip.text
        for engine_id in (">dibao<", ">inpatient<", ">critical_illness<", ">21 / 3<"):
            assert engine_id not in slip.text  # the policy's names, never internal ids
        # the patient: name, ID masked, the share in figures and in capitals (1,020.43, hand-read)
        for text in ("测试", "110101********1234", "1,020.43 元", "壹仟零贰拾元肆角叁分"):
            assert text in slip.text
        assert "110101199001011234" not in slip.text
        # each fund's bands in a sentence: basic 70% above the 800 deductible, 大病 tilted for 低保
        for text in ("800.00 元以上部分按 70%", "7,500.00–50,000.00 元部分按 65%"):
            assert text in slip.text
        assert " @ " not in slip.text
        reversal = hospital.post(f"/v1/settlements/{setl_id}/reversal").json()["setl_id"]
        assert "本结算已冲正" in hospital.get(f"/v1/settlements/{setl_id}/slip").text
        assert f"冲正单：撤销结算 {setl_id}" in hospital.get(f"/v1/settlements/{reversal}/slip").text


def test_the_slip_after_a_retroactive_grant_shows_the_patients_new_share(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, None)
        settled = hospital.post("/v1/settlements", json=claim(person)).json()
        granted = admin.post(f"/v1/persons/{person}/identities", json={"category": "dibao", "valid_from": "2024-01-01"})
        assert granted.status_code in (200, 201), granted.text
        stored = hospital.get(f"/v1/settlements/{settled['setl_id']}").json()
        slip = hospital.get(f"/v1/settlements/{settled['setl_id']}/slip").text
    moved = sum(Decimal(a["delta"]) for a in stored["adjustments"])
    assert moved > 0  # 低保 from the start of the year: the funds pay more
    now = Decimal(settled["psn_part_amt"]) - moved
    assert f"调整后个人负担：<strong>{now:,.2f} 元</strong>" in slip
    assert f"应退还个人 {moved:,.2f} 元" in slip
    assert "追认低保对象身份（自 2024-01-01 起）；按低保对象重新结算（原按普通参保人）" in slip


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/settlements", ["Idempotency-Key", "authorization", "x-api-key"], "201"),
        ("/v1/settlements/pre", ["authorization", "x-api-key"], "200"),
    ],
)
def test_the_hot_routes_serve_and_the_schema_documents_them(
    tmp_path: Path, path: str, headers: list[str], status: str
) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}"))
    served = next(r for r in app.router.routes if isinstance(r, Route) and r.path == path)
    assert served in settlements.HOT_ROUTES
    assert served.methods == {"POST"}
    post = app.openapi()["paths"][path]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ClaimIn"}
    assert [p["name"] for p in post["parameters"]] == headers
    assert set(post["responses"]) >= {status, "422"}
    schema = post["responses"][status]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/SettlementOut"}
