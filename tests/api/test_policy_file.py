"""A region's own policy file (``MEDRELIEF_POLICY=/path/region.yaml``, not a bundled name) works on
every route, and the statements, 3201/3202, reconciliations and exports use it — never a reload of
the stored ``policy_id`` as a bundled name."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import BACKENDS, database_url
from tests.api.helpers import buckets, claim, register
from tests.api.servers import ROOT, Postgres, Server, medrelief, prepare

EXAMPLES = ROOT / "examples"


def _region(folder: Path) -> Path:
    """A region's file written in YAML only (tests/cases/charity.yaml, under another id and
    insurance type): demo with a visit type of its own (13 急诊留观, settled as 21 住院) and a fifth
    fund of its own (慈善医疗救助, ``charity_pay``: 50% of what is left to 低保/特困 inpatients, at
    most 1,000.00 a year)."""
    text = (ROOT / "tests" / "cases" / "charity.yaml").read_text(encoding="utf-8")
    text = text.replace("id: charity_test\n", 'id: myregion\ninsutype: "391"\n', 1)
    path = folder / "myregion.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=BACKENDS)
def region_server(request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path: Path) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path)
    running = Server(url, prepare(url), env={"MEDRELIEF_POLICY": str(_region(tmp_path))}).start()
    yield running
    running.stop()


def _nhsa(name: str, **data: object) -> dict[str, object]:
    body: dict[str, object] = json.loads((EXAMPLES / "nhsa" / f"{name}.json").read_text(encoding="utf-8"))
    body["fixmedins_code"], body["msgid"] = "H-ONE", f"{name}-{os.urandom(6).hex()}"
    body["input"]["data"].update(data)  # type: ignore[index]
    return body


def test_every_route_works_under_a_policy_file(region_server: Server, tmp_path: Path) -> None:
    server = region_server
    period = {"from": "2025-01-01", "to": "2025-12-31"}
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin, "dibao", "2025-01-01")
        body = claim(person, settle_date="2025-03-01")
        assert hospital.post("/v1/settlements/pre", json=body).status_code == 200
        settled = hospital.post("/v1/settlements", json=body)
        assert settled.status_code == 201, settled.text
        assert settled.json()["policy_id"] == "myregion"
        setl_id = settled.json()["setl_id"]
        rows = [{"setl_id": setl_id, "hifp_pay": "1.00"}]
        answers = [
            hospital.get(f"/v1/settlements/{setl_id}"),
            hospital.get(f"/v1/settlements/{setl_id}/slip"),
            hospital.get(f"/v1/persons/{person}/accumulators", params={"year": 2025}),
            hospital.get(f"/fhir/ExplanationOfBenefit/{setl_id}"),
            insurer.get("/v1/statements", params=period),
            insurer.get("/v1/statements", params={**period, "format": "html"}),
            insurer.post("/v1/reconciliations", json={**period, "rows": rows, "fields": ["hifp_pay"]}),
        ]
        assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.is_error]
        statement = {(r["dimension"], r["value"]): r["name"] for r in answers[4].json()["rows"]}
        assert ("insutype", "391") in statement  # the service's policy, not a bundled one
        assert statement[("fund", "charity_pay")] == "慈善医疗救助基金"  # named by the region's file
        nhsa_person = {"psn_no": person, "mdtrt_id": "M-policy-file", "insutype": "391"}
        for name, data in [
            ("2304-settle", nhsa_person),
            ("5206-accumulators", {"psn_no": person}),
            ("3201-totals", {"stmt_begndate": "2025-03-01", "stmt_enddate": "2025-03-31", "insutype": "391"}),
            ("3202-detail", {"stmt_begndate": "2025-03-01", "stmt_enddate": "2025-03-31", "insutype": "391"}),
        ]:
            answer = hospital.post("/nhsa", json=_nhsa(name, **data)).json()
            assert answer["infcode"] == 0, (name, answer["err_msg"])
        fhir = json.loads((EXAMPLES / "fhir" / "claim.json").read_text(encoding="utf-8"))
        fhir["provider"] = {"reference": "Organization/H-ONE"}
        fhir["patient"] = {"reference": f"Patient/{person}"}
        submitted = hospital.post("/fhir/Claim", json=fhir, headers={"content-type": "application/fhir+json"})
        assert submitted.status_code == 201, submitted.text
        reversed_ = hospital.post(f"/v1/settlements/{setl_id}/reversal")
        assert reversed_.status_code == 201, reversed_.text
        assert admin.post("/v1/second-payout/2025", json={"insured": 10}).status_code == 201
    env = {**os.environ, "DATABASE_URL": server.database_url, "MEDRELIEF_POLICY": server.env["MEDRELIEF_POLICY"]}
    exported = tmp_path / "books.csv"
    done = medrelief(env, "export", "settlements", "--from", "2025-01-01", "--to", "2025-12-31", "--out", str(exported))
    assert done.returncode == 0, done.stderr
    assert "391" in exported.read_text(encoding="utf-8")
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _paid(response: dict[str, object]) -> str:
    return str(response["fund_pay_sumamt"])


def test_a_visit_type_the_region_declares_settles_on_every_protocol(region_server: Server, tmp_path: Path) -> None:
    """13 急诊留观, declared in the region's file only (settled as 21): the native API settles it as an
    identical 21 claim of another person, NHSA 2304 and FHIR settle it and echo it, the batch
    command agrees; a visit type the file does not declare is refused, naming med_type."""
    server = region_server
    fields = {"settle_date": "2025-03-01", "medfee_sumamt": "60000.00", "fulamt_ownpay_amt": "0.00"}
    with server.client("admin") as admin, server.client() as hospital:
        people = [register(admin, "dibao", "2025-01-01") for _ in range(4)]
        inpatient = hospital.post("/v1/settlements", json=claim(people[0], med_type="21", **fields))
        emergency = hospital.post("/v1/settlements", json=claim(people[1], med_type="13", **fields))
        assert (inpatient.status_code, emergency.status_code) == (201, 201), emergency.text
        assert emergency.json()["med_type"] == "13"
        assert _paid(emergency.json()) == _paid(inpatient.json())
        platform = _nhsa("2304-settle", psn_no=people[2], med_type="13", insutype="391")
        answer = hospital.post("/nhsa", json=platform).json()
        assert answer["infcode"] == 0, answer["err_msg"]
        assert answer["output"]["setlinfo"]["med_type"] == "13"
        fhir = json.loads((EXAMPLES / "fhir" / "claim.json").read_text(encoding="utf-8"))
        fhir["provider"] = {"reference": "Organization/H-ONE"}
        fhir["patient"] = {"reference": f"Patient/{people[3]}"}
        fhir["subType"]["coding"][0]["code"] = "13"
        submitted = hospital.post("/fhir/Claim", json=fhir, headers={"content-type": "application/fhir+json"})
        assert submitted.status_code == 201, submitted.text
        refused = hospital.post("/v1/settlements", json=claim(people[0], med_type="99", **fields))
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["param"]) == ("unknown_visit_type", "med_type")
    assert "is not a visit type of policy myregion (11, 14, 21, 13)" in refused.json()["detail"]
    claims, out = tmp_path / "claims.csv", tmp_path / "settled.csv"
    parts = {"fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0"}
    rows = [{"claim_id": f"B{m}", "person_id": f"P{m}", "category": "dibao", "med_type": m, "hospital_level": "3",
             "settle_date": "2025-03-01", "diagnosis": "C50.1", "accident": "0", "medfee_sumamt": "60000.00", **parts}
            for m in ("21", "13")]  # fmt: skip
    claims.write_text("\n".join([",".join(rows[0]), *(",".join(r.values()) for r in rows)]) + "\n", encoding="utf-8")
    policy = server.env["MEDRELIEF_POLICY"]
    done = medrelief(dict(os.environ), "settle", str(claims), "--out", str(out), "--policy", policy)
    assert done.returncode == 0, done.stdout + done.stderr
    settled = {line.split(",")[0]: line for line in out.read_text(encoding="utf-8").splitlines()[1:]}
    assert settled["B13"].removeprefix("B13") == settled["B21"].removeprefix("B21")
    assert settled["B21"].split(",")[1:] != ["0.00"] * (len(settled["B21"].split(",")) - 1)


def _benefits(resource: dict[str, object], code: str) -> list[str]:
    """The amounts in ``resource``'s total of the fund ``code`` (its own adjudication category)."""
    fund = "https://medrelief.dev/fhir/CodeSystem/fund_pay_type"
    found = []
    for entry in resource["total"]:  # type: ignore[attr-defined]
        coding = entry["category"]["coding"][0]
        if (coding["system"], coding["code"]) == (fund, code):
            found.append(f"{entry['amount']['value']:.2f}")
    return found


def test_a_fund_of_the_regions_own_is_paid_on_every_protocol(region_server: Server, tmp_path: Path) -> None:
    """The fifth layer declared in the region's YAML only (慈善救助, charity_pay) pays on the CLI, the
    native API, NHSA 2304 and FHIR, and the books keep it: a reversal takes it back, the export has
    its column, ``db check`` balances it. Hand-checked (tests/cases/golden/charity.yaml, C3): a
    dibao 13 claim of 100,000.00 at level 2 gets 79,600 + 8,385 + 9,011.25 + 0 + 1,000 (50% ×
    3,003.75 capped at 1,000.00) and the patient pays 2,003.75."""
    server = region_server
    fields = {"settle_date": "2025-03-01", "medfee_sumamt": "100000.00", "fulamt_ownpay_amt": "0.00",
              "med_type": "13", "hospital_level": 2, "diagnosis": "J18.9"}  # fmt: skip
    with server.client("admin") as admin, server.client() as hospital:
        people = [register(admin, "dibao", "2025-01-01") for _ in range(3)]
        native = hospital.post("/v1/settlements", json=claim(people[0], **fields))
        assert native.status_code == 201, native.text
        answer = native.json()
        assert answer["funds"] == {"hifp_pay": "79600.00", "hifmi_pay": "8385.00", "maf_pay": "9011.25",
                                   "supp_pay": "0.00", "charity_pay": "1000.00"}  # fmt: skip
        assert (answer["fund_pay_sumamt"], answer["psn_part_amt"]) == ("97996.25", "2003.75")
        charity = next(line for line in answer["lines"] if line["output"] == "charity_pay")
        assert (charity["fund_pay_type"], charity["cap_left"], charity["bands"]) == ("999901", "0.00", "0.00– @ 50%")
        platform = _nhsa("2304-settle", psn_no=people[1], insutype="391", med_type="13", hosp_lv="2",
                         dise_codg="J18.9", medfee_sumamt=100000.00, inscp_scp_amt=100000.00)  # fmt: skip
        reply = hospital.post("/nhsa", json=platform).json()
        assert reply["infcode"] == 0, reply["err_msg"]
        info, detail = reply["output"]["setlinfo"], reply["output"]["setldetail"]
        assert (info["oth_pay"], info["fund_pay_sumamt"], info["psn_part_amt"]) == (1000.0, 97996.25, 2003.75)
        row = next(d for d in detail if d["fund_pay_type"] == "999901")
        assert (row["fund_pay_type_name"], row["fund_payamt"]) == ("慈善医疗救助基金", 1000.0)
        assert {d["fund_pay_type_name"] for d in detail} >= {"城乡居民基本医疗保险基金", "医疗救助基金"}
        fhir = json.loads((EXAMPLES / "fhir" / "claim.json").read_text(encoding="utf-8"))
        fhir["provider"] = {"reference": "Organization/H-ONE"}
        fhir["patient"] = {"reference": f"Patient/{people[2]}"}
        fhir["subType"]["coding"][0]["code"] = "13"
        submitted = hospital.post("/fhir/Claim", json=fhir, headers={"content-type": "application/fhir+json"})
        assert submitted.status_code == 201, submitted.text
        # 60,000 in-policy at level 2: 47,600 + 3,185 + 6,911.25, then 50% × 2,303.75 capped at 1,000
        assert _benefits(submitted.json(), "999901") == ["1000.00"]
        reversal = hospital.post(f"/v1/settlements/{answer['setl_id']}/reversal")
        assert reversal.status_code == 201, reversal.text
        assert reversal.json()["funds"]["charity_pay"] == "-1000.00"
    env = {**os.environ, "DATABASE_URL": server.database_url, "MEDRELIEF_POLICY": server.env["MEDRELIEF_POLICY"]}
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exported = tmp_path / "books.csv"
    done = medrelief(env, "export", "settlements", "--from", "2025-01-01", "--to", "2025-12-31", "--out", str(exported))
    assert done.returncode == 0, done.stderr
    books = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert sorted(r["charity_pay"] for r in books if r["person_id"] == people[0]) == ["-1000.00", "1000.00"]
    claims, out = tmp_path / "claims.csv", tmp_path / "settled.csv"
    row = {"claim_id": "B1", "person_id": "P1", "category": "dibao", "med_type": "13", "hospital_level": "2",
           "settle_date": "2025-03-01", "diagnosis": "J18.9", "accident": "0", "medfee_sumamt": "100000.00",
           "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0"}  # fmt: skip
    claims.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8")
    done = medrelief(dict(os.environ), "settle", str(claims), "--out", str(out), "--policy", env["MEDRELIEF_POLICY"])
    assert done.returncode == 0, done.stdout + done.stderr
    (settled,) = csv.DictReader(out.open(encoding="utf-8"))
    assert (settled["charity_pay"], settled["fund_pay_sumamt"], settled["psn_part_amt"]) == (
        "1000.00",
        "97996.25",
        "2003.75",
    )


def test_a_policy_dated_by_admission_on_every_protocol(postgres: Postgres | str, tmp_path: Path) -> None:
    """tests/cases/admission-dated.yaml (demo, ``dated_by: admission``; hand-checked in
    tests/cases/golden/admission_dated.yaml): a stay admitted in December 2024 and settled in
    January 2025 is 2024's second admission (起付 400, 72%: 6,912.00) and is kept in 2024's books; a
    June admission settled in July takes June's 70% (6,440.00) on NHSA (``begntime``) and FHIR
    (``billablePeriod.start``) alike; the books balance."""
    url = database_url("sqlite", postgres, tmp_path)
    policy = str(ROOT / "tests" / "cases" / "admission-dated.yaml")
    running = Server(url, prepare(url), env={"MEDRELIEF_POLICY": policy}).start()
    fields = {"hospital_level": 3, "diagnosis": "J18.9", "medfee_sumamt": "10000.00", "fulamt_ownpay_amt": "0.00"}
    try:
        with running.client("admin") as admin, running.client() as hospital:
            first, second, third = (register(admin, None) for _ in range(3))
            assert hospital.post("/v1/settlements", json=claim(first, settle_date="2024-03-01", **fields)).is_success
            december = claim(first, settle_date="2025-01-10", admission_date="2024-12-20", **fields)
            answer = hospital.post("/v1/settlements", json=december).json()
            assert (answer["hifp_pay"], answer["act_pay_dedc"]) == ("6912.00", "400.00")
            inpatient = buckets(hospital, first, 2024)[("basic", "inpatient")]
            assert inpatient == "13352.00"  # 6,440 + 6,912: both in 2024
            platform = _nhsa("2304-settle", psn_no=second, insutype="390", hosp_lv="3", dise_codg="J18.9",
                             medfee_sumamt=10000.0, inscp_scp_amt=10000.0, setl_time="2024-07-05 10:00:00",
                             begntime="2024-06-25 09:00:00")  # fmt: skip
            reply = hospital.post("/nhsa", json=platform).json()
            assert reply["infcode"] == 0, reply["err_msg"]
            assert reply["output"]["setlinfo"]["hifp_pay"] == 6440.0
            fhir = json.loads((EXAMPLES / "fhir" / "claim.json").read_text(encoding="utf-8"))
            fhir["provider"] = {"reference": "Organization/H-ONE"}
            fhir["patient"] = {"reference": f"Patient/{third}"}
            fhir["billablePeriod"] = {"start": "2024-06-25", "end": "2024-07-05"}
            fhir["extension"][0]["valueInteger"] = 3
            fhir["item"] = fhir["item"][:1]
            fhir["item"][0]["net"]["value"] = 10000.0
            fhir["total"]["value"] = 10000.0
            submitted = hospital.post("/fhir/Claim", json=fhir, headers={"content-type": "application/fhir+json"})
            assert submitted.status_code == 201, submitted.text
            assert _benefits_total(submitted.json()) == "6440.00"
            late = hospital.post(
                "/v1/settlements", json=claim(third, settle_date="2024-07-05", admission_date="2024-07-06", **fields)
            )
            assert (late.status_code, late.json()["param"]) == (422, "admission_date")
    finally:
        running.stop()
    checked = medrelief({**os.environ, "DATABASE_URL": url, "MEDRELIEF_POLICY": policy}, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _benefits_total(resource: dict[str, object]) -> str:
    """The basic fund's benefit in ``resource``'s total (told apart by fund code 390100)."""
    (amount,) = _benefits(resource, "390100")
    return amount
