"""``POST /nhsa`` as real HIS clients speak it: messages built exactly as their request classes build
them, against a real server (SQLite and PostgreSQL).

- fengzaiqishi11/hsa-his: ``hsa-insure/.../unifiedpay/util/outptsettle/OutptSettleReqUtil.java``
  (2207 ``data``: every optional amount ``""``, ``chrg_bchno`` "0", ``psn_name``/``certno``),
  ``.../unifiedpay/util/InsureCommonUtil.java`` (envelope: ``medins_code``, no ``inf_time``, ``input``
  as a JSON *string*), ``.../bo/impl/InsureUnifiedPayReversalTradeBOImpl.java`` (2601).
- liwerAKM/YbRefund: ``YbRefund/BusinessCSB/CSBHelper.cs`` (envelope with ``sign_no`` from 9001,
  ``fixmedins_soft_fcty``, ``enc_type ""``), ``BusinessCSB/Models/QD/T9001.cs`` / ``T9002.cs``
  (``signIn``/``signOut``), ``Plat/Models/MZJS/T2207.cs`` (``decimal?`` parts serialised ``null``,
  ``expContent`` a string), ``Plat/Models/T2601.cs``, ``T3201.cs`` (``clr_type``), ``T1101.cs``.
- hzg19700304/medical-insurance-interface-SDK: ``medical_insurance_sdk/core/protocol_processor.py``
  (``dev_no``/``cainfo``/``sign_no`` as the string ``"null"``, ``infver`` "1.0.0").

None of them sends ``hosp_lv``: the hospital tier comes from the registry of institutions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.helpers import new_id
from tests.api.servers import ROOT, Server, medrelief

CHINA = ZoneInfo("Asia/Shanghai")  # demo's time zone


def _today() -> str:
    return datetime.now(CHINA).date().isoformat()


def _msgid(code: str) -> str:
    """As both clients make it: institution code + yyyyMMddHHmmss + 4 digits."""
    return f"{code}{datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().int % 10000:04d}"[-30:]


def hsa_his(infno: str, data: dict[str, Any]) -> dict[str, Any]:
    """hsa-his ``getInsurCommonParam`` / ``invokingUpay``: no inf_time, ``input`` a JSON string."""
    return {
        "infno": infno, "insuplc_admdvs": "320600", "medins_code": "H-ONE", "insur_code": "320600",
        "mdtrtarea_admvs": "320600", "msgid": _msgid("H-ONE"), "opter": "0001", "opter_name": "张医生",
        "input": json.dumps({"data": data}, ensure_ascii=False),
    }  # fmt: skip


def ybrefund(infno: str, input_: dict[str, Any], sign_no: str = "", inf_time: str | None = None) -> dict[str, Any]:
    """YbRefund ``CreateInputRoot``: the whole envelope, Newtonsoft's nulls included."""
    return {
        "infno": infno, "msgid": _msgid("H-ONE"), "mdtrtarea_admvs": "320600", "insuplc_admdvs": "320600",
        "recer_sys_code": "0023", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM2",
        "infver": "V1.0", "opter_type": "1", "opter": "0001", "opter_name": "0001",
        "inf_time": inf_time or f"{datetime.now():%Y-%m-%d %H:%M:%S}", "fixmedins_code": "H-ONE",
        "fixmedins_name": "第一医院", "sign_no": sign_no, "fixmedins_soft_fcty": "江苏启航开创软件有限公司",
        "enc_type": "", "input": input_,
    }  # fmt: skip


def outpatient_2207(psn_no: str, mdtrt_id: str, amount: str) -> dict[str, Any]:
    """hsa-his ``OutptSettleReqUtil.initRequest``, field for field."""
    return {
        "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": "320602199001011234", "card_sn": None,
        "psn_cert_type": "01", "certno": "320602199001011234", "psn_type": "1101", "psn_name": "王五",
        "med_type": "11", "medfee_sumamt": float(amount), "psn_setlway": "01", "mdtrt_id": mdtrt_id,
        "chrg_bchno": "0", "insutype": "390", "acct_used_flag": "0", "invono": "", "fulamt_ownpay_amt": "",
        "overlmt_selfpay": "", "preselfpay_amt": "", "inscp_scp_amt": "", "pub_hosp_rfom_flag": "",
        "mdtrt_mode": "0", "mid_setl_flag": "0",
    }  # fmt: skip


def post(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/nhsa", content=json.dumps(body, ensure_ascii=False, default=str))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ok(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = post(client, body)
    assert answer["infcode"] == 0, answer["err_msg"]
    return answer


@pytest.fixture(scope="module")
def registered(server: Server) -> Server:
    """H-ONE registered as a tier-2 hospital of region 320600 (H-TWO has no tier)."""
    with server.client("admin") as admin:
        put = admin.put("/v1/institutions/H-ONE", json={"name": "第一医院", "hospital_tier": "2", "admdvs": "320600"})
        assert put.status_code == 200, put.text
        assert put.json()["hospital_tier"] == "2"
        listed = {i["id"]: i for i in admin.get("/v1/institutions").json()}
        assert listed["H-ONE"]["admdvs"] == "320600"
        assert listed["H-TWO"]["hospital_tier"] is None
        bad = admin.put("/v1/institutions/H-ONE", json={"hospital_tier": "7"})
        assert bad.status_code == 422
        assert bad.json()["param"] == "hospital_tier"
    return server


def test_hsa_his_outpatient_settles_at_the_registered_tier(registered: Server) -> None:
    """hsa-his's 2207 (blank parts, no time, input as a string) settles today at tier 2, as the
    native API settles the same claim; the answer says the bill had no parts and no identity."""
    person, visit, twin = new_id("HP"), new_id("HM"), new_id("HP")
    with registered.client() as hospital, registered.client("admin") as admin:
        assert admin.post("/v1/persons", json={"person_id": twin, "identities": []}).status_code == 201
        native = {"claim_id": new_id("C"), "person_id": twin, "med_type": "11", "hospital_level": 2,
                  "settle_date": _today(), "medfee_sumamt": "860.00"}  # fmt: skip
        same = hospital.post("/v1/settlements/pre", json=native)
        answer = ok(hospital, hsa_his("2207", outpatient_2207(person, visit, "860.00")))
    assert same.status_code == 200, same.text
    info = answer["output"]["setlinfo"]
    for field in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt", "fund_pay_sumamt"):
        assert Decimal(str(info[field])) == Decimal(same.json()[field]), field
    assert Decimal(str(info["hifp_pay"])) > 0
    assert info["clr_type"] == "11"
    assert info["mdtrt_id"] == visit
    # the person as the message names them (registered on first sight, so the registry has nothing)
    assert (info["psn_name"], info["certno"], info["gend"], info["brdy"]) == (
        "王五",
        "320602199001011234",
        "1",
        "1990-01-01",
    )
    assert info["setl_time"][:10] == _today()  # dated now in the policy's time zone, with the time of day
    assert info["setl_time"][11:] != "00:00:00" or datetime.now(CHINA).hour == 0
    assert "no bill parts given" in answer["warn_msg"]
    assert "holds no relief identity" in answer["warn_msg"]


def test_a_tier_the_registry_contradicts_or_lacks_is_refused(registered: Server) -> None:
    data = outpatient_2207(new_id("HP"), new_id("HM"), "100.00")
    with registered.client() as hospital, registered.client("hospital2") as other:
        mismatch = post(hospital, hsa_his("2207", {**data, "hosp_lv": "3"}))
        unknown = post(other, {**hsa_his("2207", data), "medins_code": "H-TWO"})
        given = ok(other, {**hsa_his("2207", {**data, "hosp_lv": 3}), "medins_code": "H-TWO"})
    assert mismatch["infcode"] == -1
    assert "input.data.hosp_lv" in mismatch["err_msg"]
    assert "differs from institution H-ONE's tier 2" in mismatch["err_msg"]
    assert unknown["infcode"] == -1
    assert "hospital_tier_unknown (input.data.hosp_lv)" in unknown["err_msg"]
    assert given["output"]["setlinfo"]["setl_id"]


def test_ybrefund_signs_in_settles_loses_the_answer_and_recalls_it(registered: Server) -> None:
    """9001, a 2207 whose answer is lost, 2601 by its msgid (twice: idempotent), and a 2601 of a message
    that never arrived, after which that message is refused."""
    with registered.client() as hospital:
        signed = ok(hospital, ybrefund("9001", {"signIn": {"opter_no": "0001", "mac": "00:00:00:00:00:00",
                                                           "ip": "127.0.0.1"}}))  # fmt: skip
        sign_no = signed["output"]["signinoutb"]["sign_no"]
        assert len(sign_no) == 30
        again = ok(hospital, ybrefund("9001", {"signIn": {"opter_no": "0002"}}))
        assert again["output"]["signinoutb"]["sign_no"] == sign_no  # one per institution and day
        data = {"psn_no": new_id("YP"), "mdtrt_cert_type": "02", "mdtrt_cert_no": "320602199001011234",
                "med_type": "11", "medfee_sumamt": 420.5, "psn_setlway": "01", "mdtrt_id": new_id("YM"),
                "chrg_bchno": "1", "insutype": "390", "acct_used_flag": "0", "invono": None,
                "fulamt_ownpay_amt": 20.5, "overlmt_selfpay": None, "preselfpay_amt": None,
                "inscp_scp_amt": 400.0, "expContent": "{\"accident\": \"0\"}"}  # fmt: skip
        lost = ybrefund("2207", {"data": data}, sign_no)
        settled = ok(hospital, lost)["output"]["setlinfo"]
        assert Decimal(str(settled["inscp_scp_amt"])) == Decimal("400.00")
        recall = {"psn_no": data["psn_no"], "omsgid": lost["msgid"], "oinfno": "2207"}
        undone = ok(hospital, ybrefund("2601", {"data": recall}, sign_no))["output"]
        assert undone["setlinfo"]["setl_id"] != settled["setl_id"]
        assert Decimal(str(undone["setlinfo"]["fund_pay_sumamt"])) == -Decimal(str(settled["fund_pay_sumamt"]))
        twice = ok(hospital, ybrefund("2601", {"data": recall}, sign_no))
        assert "already reversed" in twice["warn_msg"]
        query = ok(hospital, ybrefund("5203", {"data": {"setl_id": settled["setl_id"]}}, sign_no))
        assert query["output"]["setlinfo"]["setl_id"] == settled["setl_id"]
        never = ybrefund("2207", {"data": {**data, "mdtrt_id": new_id("YM")}}, sign_no)
        marked = ok(hospital, ybrefund("2601", {"data": {**recall, "omsgid": never["msgid"]}}, sign_no))
        assert "none will be" in marked["warn_msg"]
        late = post(hospital, never)
        assert late["infcode"] == -1
        assert "idempotency_key_reused" in late["err_msg"]
        out = ok(hospital, ybrefund("9002", {"signOut": {"sign_no": sign_no, "opter_no": "0001"}}))
        assert out["output"]["signoutoutb"]["sign_time"]


def test_3201_totals_by_clearing_type_with_the_upper_case_flag(registered: Server) -> None:
    """An outpatient and an inpatient claim on one day: 3201 for clr_type 11 balances on the
    outpatient one alone, with ``REFD_SETL_FLAG`` as two clients spell it."""
    day = "2025-02-03"
    with registered.client() as hospital:
        out = ok(hospital, ybrefund("2207", {"data": {"psn_no": new_id("CP"), "mdtrt_id": new_id("CM"),
                                                      "med_type": "11", "medfee_sumamt": 300}},
                                    inf_time=f"{day} 10:00:00"))["output"]["setlinfo"]  # fmt: skip
        ok(hospital, ybrefund("2304", {"data": {"psn_no": new_id("CP"), "mdtrt_id": new_id("CM"),
                                                "medfee_sumamt": 9000}}, inf_time=f"{day} 11:00:00"))  # fmt: skip
        totals = {"insutype": "390", "clr_type": "11", "setl_optins": "320600", "stmt_begndate": day,
                  "stmt_enddate": day, "medfee_sumamt": out["medfee_sumamt"],
                  "fund_pay_sumamt": out["fund_pay_sumamt"], "acct_pay": 0, "fixmedins_setl_cnt": 1,
                  "REFD_SETL_FLAG": "0"}  # fmt: skip
        balanced = ok(hospital, ybrefund("3201", {"data": totals}))["output"]["stmtinfo"]
        every = ok(hospital, ybrefund("3201", {"data": {**totals, "clr_type": None}}))["output"]["stmtinfo"]
    assert balanced["stmt_rslt"] == "0", balanced["stmt_rslt_dscr"]
    assert every["stmt_rslt"] == "1"
    assert "fixmedins_setl_cnt: ours 2, yours 1" in every["stmt_rslt_dscr"]


def test_1101_answers_the_person_and_relief_identities_from_the_registry(registered: Server) -> None:
    person, number = new_id("IP"), f"32060219850715{uuid.uuid4().int % 100:02d}24"  # an even 17th digit: 女
    body = {"person_id": person, "name": "李四", "id_number": number,
            "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}  # fmt: skip
    with registered.client("admin") as admin, registered.client() as hospital:
        assert admin.post("/v1/persons", json=body).status_code == 201
        found = ok(hospital, ybrefund("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": number,
                                                        "card_sn": "", "begntime": "", "psn_cert_type": "01",
                                                        "certno": number, "psn_name": "李四"}}))  # fmt: skip
        missing = post(hospital, ybrefund("1101", {"data": {"certno": "110101200001010000"}}))
    base = found["output"]["baseinfo"]
    assert (base["psn_no"], base["psn_name"], base["brdy"], base["gend"]) == (person, "李四", "1985-07-15", "2")
    (identity,) = found["output"]["idetinfo"]
    assert identity["psn_idet_type"] == "2202"
    assert identity["begntime"] == "2025-01-01 00:00:00"
    assert missing["infcode"] == -1
    assert "input.data.certno" in missing["err_msg"]


def test_times_only_in_the_specification_formats_and_provincial_revisions(registered: Server) -> None:
    data = {"psn_no": new_id("TP"), "mdtrt_id": new_id("TM"), "med_type": "11", "medfee_sumamt": 100}
    with registered.client() as hospital:
        compact = post(hospital, ybrefund("2207", {"data": data}, inf_time="20250610093000"))
        revised = ok(hospital, ybrefund("2207A", {"data": data}, inf_time="2025-06-10 09:30:00"))
        unknown = post(hospital, ybrefund("2207", {"data": {**data, "mdtrt_id": new_id("TM"), "med_type": "99"}}))
    assert compact["infcode"] == -1
    assert compact["err_msg"].startswith("inf_time:")
    assert revised["output"]["setlinfo"]["setl_id"]
    assert unknown["infcode"] == -1
    assert "'99'" in unknown["err_msg"]


def test_an_institution_is_settled_for_only_while_it_is_active(registered: Server) -> None:
    """``medrelief institutions add | deactivate`` as a user runs them, then claims on either side."""
    env = {**os.environ, "DATABASE_URL": registered.database_url, "COLUMNS": "200"}
    code = new_id("H3")[:20]
    added = medrelief(env, "institutions", "add", code, "--tier", "3", "--active-from", "2025-01-01")
    assert added.returncode == 0, added.stderr
    key = medrelief(env, "keys", "create", "--institution", code, "--kind", "hospital").stdout.strip()
    assert medrelief(env, "institutions", "deactivate", code, "--on", "2025-01-31").returncode == 0
    listed = medrelief(env, "institutions", "list").stdout
    assert f"{code}  hospital  tier 3  -  2025-01-01 – 2025-01-31" in listed
    data = {"psn_no": new_id("AP"), "mdtrt_id": new_id("AM"), "med_type": "11", "medfee_sumamt": 100}
    with httpx.Client(base_url=registered.base_url, headers={"X-API-Key": key}) as hospital:
        inside = ok(
            hospital, {**ybrefund("2207", {"data": data}, inf_time="2025-01-15 09:00:00"), "fixmedins_code": code}
        )
        after = {**ybrefund("2207", {"data": {**data, "mdtrt_id": new_id("AM")}}, inf_time="2025-02-01 09:00:00"),
                 "fixmedins_code": code}  # fmt: skip
        refused = post(hospital, after)
    assert inside["output"]["setlinfo"]["setl_id"]
    assert refused["infcode"] == -1
    assert "institution_inactive" in refused["err_msg"]


def _sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((ROOT / "examples" / "nhsa" / f"{name}.json").read_text(encoding="utf-8"))
    return {**body, "fixmedins_code": "H-ONE"}


def test_the_samples_sign_in_settle_recall_and_read_the_person(registered: Server) -> None:
    """examples/nhsa/ as README walks it: 9001, 2207 (its msgid kept), 2601 of that msgid, 1101."""
    with registered.client() as hospital, registered.client("admin") as admin:
        assert ok(hospital, _sample("9001-sign-in"))["output"]["signinoutb"]["sign_no"]
        settled = ok(hospital, _sample("2207-settle"))["output"]["setlinfo"]
        recalled = ok(hospital, _sample("2601-recall"))["output"]["setlinfo"]
        assert Decimal(str(recalled["medfee_sumamt"])) == -Decimal(str(settled["medfee_sumamt"]))
        person = {"person_id": new_id("SP"), "name": "张三", "id_number": "110101199001011234", "identities": []}
        assert admin.post("/v1/persons", json=person).status_code == 201
        base = ok(hospital, _sample("1101-person"))["output"]["baseinfo"]
        resent = {**_sample("2207-settle"), "msgid": _msgid("H-ONE")}
        again = ok(hospital, resent)["output"]["setlinfo"]  # settled anew after its 2601
    assert again["psn_no"] == "NHSA-P001"
    assert again["setl_time"] == "2025-03-01 12:00:00"
    assert again["medins_setl_id"] == resent["msgid"]
    assert (base["psn_no"], base["gend"], base["brdy"]) == (person["person_id"], "1", "1990-01-01")


def test_the_sample_flow_replays_as_one_script(tmp_path: Path) -> None:
    """examples/nhsa/replay.py on a fresh service, as README's NHSA tour runs it: every step answers,
    3201/3202 balance; run again, every settlement replays."""
    from tests.api.servers import prepare

    url = f"sqlite:///{tmp_path / 'flow.db'}"
    fresh = Server(url, prepare(url)).start()
    try:
        env = {**os.environ, "DATABASE_URL": url}
        key = medrelief(env, "keys", "create", "--institution", "DEMO-HOSPITAL", "--kind", "hospital").stdout.strip()
        script = [sys.executable, str(ROOT / "examples" / "nhsa" / "replay.py"), "--url", fresh.base_url, "--key", key]
        first = subprocess.run(
            [*script, "--admin-key", fresh.keys["admin"]], capture_output=True, text=True, check=False
        )
        again = subprocess.run(script, capture_output=True, text=True, check=False)
    finally:
        fresh.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "✓ 2304-settle: setl_id S" in first.stdout
    assert "fund_pay_sumamt 57696.25, psn_part_amt 2303.75" in first.stdout
    assert first.stdout.count("平 (balanced)") == 2
    assert again.returncode == 0, again.stdout + again.stderr
    settled = [line for line in first.stdout.splitlines() if line.startswith("✓ 2304")]
    assert settled == [line for line in again.stdout.splitlines() if line.startswith("✓ 2304")]


def test_an_admission_settles_with_the_diagnosis_of_its_visit(registered: Server) -> None:
    """2401 as hsa-his sends it (``mdtrtinfo`` + ``diseinfo`` rows, the main one flagged), 2402, then a
    2304 without diagnosis or visit type: settled as the native API settles the same stay with C50.1
    (a major disease: the supplementary layer pays)."""
    with registered.client() as hospital, registered.client("admin") as admin:
        person, twin = new_id("VP"), new_id("VP")
        for someone in (person, twin):
            body = {"person_id": someone, "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}
            assert admin.post("/v1/persons", json=body).status_code == 201
        admission = {
            "mdtrtinfo": {"ipt_otp_no": "ZY001", "psn_no": person, "insutype": "390", "mdtrt_cert_type": "02",
                          "mdtrt_cert_no": "320602199001011234", "med_type": "21", "ipt_no": "ZY001",
                          "medrcdno": None, "begntime": "2025-04-01 08:00:00", "dscg_maindiag_code": "J18.9",
                          "dise_code": "B001"},
            "diseinfo": [{"psn_no": person, "diag_type": "1", "maindiag_flag": "0", "diag_srt_no": 0,
                          "diag_code": "J18.9", "diag_name": "肺炎"},
                         {"psn_no": person, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": 1,
                          "diag_code": "C50.1", "diag_name": "乳腺恶性肿瘤"}],
            "agnterinfo": {},
        }  # fmt: skip
        admitted = hsa_his("2401", {})
        admitted["input"] = json.dumps(admission, ensure_ascii=False)
        mdtrt_id = ok(hospital, admitted)["output"]["result"]["mdtrt_id"]
        assert ok(hospital, admitted)["output"]["result"]["mdtrt_id"] == mdtrt_id  # a retry: the same visit
        discharged = ybrefund("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": person, "insutype": "390",
                                                    "endtime": "2025-04-10 10:00:00"}})  # fmt: skip
        ok(hospital, discharged)
        settle = {"psn_no": person, "mdtrt_id": mdtrt_id, "medfee_sumamt": 60000, "inscp_scp_amt": 60000}
        info = ok(hospital, ybrefund("2304", {"data": settle}, inf_time="2025-04-10 11:00:00"))["output"]["setlinfo"]
        native = {"claim_id": new_id("C"), "person_id": twin, "med_type": "21", "hospital_level": 2,
                  "settle_date": "2025-04-10", "admission_date": "2025-04-01", "diagnosis": "C50.1",
                  "medfee_sumamt": "60000.00"}  # fmt: skip
        same = hospital.post("/v1/settlements/pre", json=native).json()
    for field in ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay", "psn_part_amt"):
        paid = info["oth_pay"] if field == "supp_pay" else info[field]
        assert Decimal(str(paid)) == Decimal(same[field]), field
    assert Decimal(same["supp_pay"]) > 0  # C50.1 came from the visit: the major-disease layer paid


def test_an_outpatient_visit_gives_its_visit_type_and_a_cancelled_one_settles_nothing(registered: Server) -> None:
    """YbRefund's 2201, 2203 (``diseinfo`` a single object), 2207 without ``med_type``; 2202 cancels."""
    with registered.client() as hospital:
        person = new_id("OP")
        registration = {"data": {"psn_no": person, "insutype": "390", "begntime": "2025-05-06 09:00:00",
                                 "mdtrt_cert_type": "02", "mdtrt_cert_no": "320602199001011234",
                                 "ipt_otp_no": "MZ01", "atddr_no": "D01", "dr_name": "李医生", "dept_code": "01",
                                 "dept_name": "内科", "caty": "A03", "expContent": ""}}  # fmt: skip
        answer = ok(hospital, ybrefund("2201", registration))["output"]["data"]
        assert answer["ipt_otp_no"] == "MZ01"
        visit = answer["mdtrt_id"]
        details = {"mdtrtinfo": {"mdtrt_id": visit, "psn_no": person, "med_type": "14",
                                 "begntime": "2025-05-06 09:00:00", "main_cond_dscr": "", "dise_codg": "",
                                 "dise_name": ""},
                   "diseinfo": {"diag_type": "1", "diag_srt_no": "1", "diag_code": "E11.9", "diag_name": "2型糖尿病",
                                "diag_dept": "内科", "dise_dor_no": "D01", "dise_dor_name": "李医生",
                                "diag_time": "2025-05-06 09:10:00", "vali_flag": "1"}}  # fmt: skip
        ok(hospital, ybrefund("2203", details))
        data = {"psn_no": person, "mdtrt_id": visit, "medfee_sumamt": 800, "inscp_scp_amt": 800}
        settled = ok(hospital, ybrefund("2207", {"data": data}, inf_time="2025-05-06 10:00:00"))["output"]["setlinfo"]
        assert settled["med_type"] == "14"  # 门诊慢特病, from 2203
        other = ok(hospital, ybrefund("2201", registration))["output"]["data"]["mdtrt_id"]
        ok(hospital, ybrefund("2202", {"data": {"psn_no": person, "mdtrt_id": other, "ipt_otp_no": "MZ01"}}))
        refused = post(hospital, ybrefund("2207", {"data": {**data, "mdtrt_id": other}}))
        third = ybrefund("2201", registration)  # its answer lost: 2601 undoes the registration
        lost = ok(hospital, third)["output"]["data"]["mdtrt_id"]
        recall = {"psn_no": person, "omsgid": third["msgid"], "oinfno": "2201"}
        assert ok(hospital, ybrefund("2601", {"data": recall}))["output"]["mdtrt_id"] == lost
        undone = post(hospital, ybrefund("2207", {"data": {**data, "mdtrt_id": lost}}))
        assert f"visit {lost} was cancelled" in undone["err_msg"]
        stranger = post(hospital, ybrefund("2207", {"data": {**data, "psn_no": new_id("OP")}}))
    assert refused["infcode"] == -1
    assert f"visit {other} was cancelled" in refused["err_msg"]
    assert "is of another person" in stranger["err_msg"]
