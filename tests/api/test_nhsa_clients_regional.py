"""``POST /nhsa`` as two more HIS clients build their messages, against a real server:

- liutao2019/IBORN_HIS_ALL, ``MEDICAL/广州医保/API.GZSI`` (Guangzhou): ``Business/AbstractService.cs``
  ``ConvertModelToSendMessage`` (envelope: ``msgid`` = institution code + ``yyyyMMddHHmmss``,
  ``recer_admdvs``, ``signtype`` SM3 with ``cainfo`` the SM3 of the input, ``infver`` 1.0.0, a
  9001 sign-in before business calls), ``Class/JsonHelper.SerializeObject`` (Newtonsoft, indented,
  nulls left out), ``Models/Request/RequestGzsiModel2207.cs`` / ``2304.cs`` (the settlement in
  ``input.mdtrtinfo``, every amount a string, no bill parts), ``2601.cs`` (its fields bare in
  ``input``);
- yao234/CodeMiddleWare (a Neusoft middleware): ``GeneralJsonStrAppend.cs`` (JSON written by string
  concatenation: every value a string, ``null`` written as ``""``), ``ClinicSettleMent.cs`` (2207),
  ``InHospitalSettleMent.cs`` (2304), ``NewYiBaoChongZheng.cs`` (2601) — ``input.data`` in property
  order, ``expContent`` the empty string.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.api.helpers import new_id
from tests.api.test_nhsa_clients import ok, post, registered

__all__ = ["registered"]
_CLOCK = itertools.count()
_START = datetime.now()


def _iborn_msgid() -> str:
    """``fixmedins_code + DateTime.Now.ToString("yyyyMMddHHmmss")``: one message a second at most
    (a second message in the same second would reuse the msgid — the platform refuses that too)."""
    return f"H-ONE{_START + timedelta(seconds=next(_CLOCK)):%Y%m%d%H%M%S}"


def iborn(infno: str, input_: dict[str, Any], sign_no: str = "") -> str:
    """The request body as IBORN's ``WebMessage<T>`` serialises: indented, nulls left out."""
    message = {
        "infno": infno, "msgid": _iborn_msgid(), "insuplc_admdvs": "440100", "mdtrtarea_admvs": "440100",
        "recer_admdvs": "440100", "dev_no": "", "dev_safe_info": "", "signtype": "SM3",
        "cainfo": hashlib.sha256(json.dumps(input_).encode()).hexdigest(),  # SM3 there; opaque here
        "infver": "1.0.0", "opter_type": "1", "opter": "01", "opter_name": "0001",
        "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "fixmedins_code": "H-ONE",
        "fixmedins_name": "广州爱博恩妇产医院", "recer_sys_code": "HIS", "sign_no": sign_no, "input": input_,
    }  # fmt: skip
    return json.dumps(_without_nulls(message), ensure_ascii=False, indent=2)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def codemiddleware(infno: str, fields: list[tuple[str, Any]]) -> str:
    """``GetCreateJson``: the head's fields, then ``"input":{"data":{…}}`` — every value quoted,
    ``null`` as ``""`` — concatenated as text, exactly in that order."""
    head = {"infno": infno, "msgid": f"H-ONE{datetime.now():%Y%m%d%H%M%S}{next(_CLOCK) % 10000:04d}",
            "insuplc_admdvs": "440100", "mdtrtarea_admvs": "440100", "recer_sys_code": "NEUSOFT", "cainfo": "",
            "dev_no": "", "dev_safe_info": "", "signtype": "", "infver": "V1.0", "opter_type": "1", "opter": "01",
            "opter_name": "0001", "inf_time": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "fixmedins_code": "H-ONE",
            "fixmedins_name": "第一医院", "sign_no": "", "fixmedins_soft_fcty": "东软"}  # fmt: skip
    text = "{" + "".join(f'"{k}": "{v}",' for k, v in head.items())
    return text + '"input":{"data":{' + ",".join(f'"{k}":"{"" if v is None else v}"' for k, v in fields) + "}}}"


def _send(client: Any, body: str) -> dict[str, Any]:
    response = client.post("/nhsa", content=body.encode("utf-8"))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_iborn_signs_in_and_settles_an_outpatient_visit_and_an_admission(registered: Any) -> None:
    """9001, then 2207 and 2304 with the settlement in ``mdtrtinfo`` (amounts as strings, no parts):
    each settles as the native API settles the same bill; 2601 with its fields bare undoes the 2207."""
    person, stay = new_id("GZ"), new_id("GZ")
    with registered.client() as hospital, registered.client("admin") as admin:
        for someone in (person, stay):
            body = {"person_id": someone, "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}
            assert admin.post("/v1/persons", json=body).status_code == 201
        signed = _send(hospital, iborn("9001", {"signIn": {"opter_no": "01", "mac": "", "ip": "127.0.0.1"}}))
        sign_no = signed["output"]["signinoutb"]["sign_no"]
        visit = {"psn_no": person, "insutype": "390", "mdtrt_cert_type": "02", "mdtrt_cert_no": "440106199001011234",
                 "begntime": f"{datetime.now():%Y-%m-%d %H:%M:%S}", "ipt_otp_no": "MZ001", "dept_code": "01",
                 "dept_name": "妇科", "atddr_no": "D01", "dr_name": "李医生", "caty": "A01"}  # fmt: skip
        mdtrt_id = ok(hospital, json.loads(iborn("2201", {"mdtrtinfo": visit}, sign_no)))["output"]["data"]["mdtrt_id"]
        outpatient = {"psn_no": person, "mdtrt_cert_type": "02", "mdtrt_cert_no": "440106199001011234",
                      "medfee_sumamt": "860.00", "mdtrt_id": mdtrt_id, "chrg_bchno": "1", "insutype": "390",
                      "med_type": "11", "acct_used_flag": "0", "psn_setlway": "01", "invono": None,
                      "mdtrt_mode": "0", "mid_setl_flag": "0", "order_no": None}  # fmt: skip
        settled_body = iborn("2207", {"mdtrtinfo": outpatient}, sign_no)
        settled = _send(hospital, settled_body)
        native = hospital.post("/v1/settlements/pre", json={
            "claim_id": new_id("C"), "person_id": stay, "med_type": "11", "hospital_level": 2,
            "settle_date": f"{datetime.now():%Y-%m-%d}", "medfee_sumamt": "860.00"}).json()  # fmt: skip
        undo = {"psn_no": person, "omsgid": json.loads(settled_body)["msgid"], "oinfno": "2207"}
        undone = _send(hospital, iborn("2601", undo, sign_no))
        admission = {"psn_no": stay, "mdtrt_cert_type": "02", "mdtrt_cert_no": "440106199001015678",
                     "medfee_sumamt": "30000.00", "mdtrt_id": new_id("ZY"), "insutype": "390", "med_type": "21",
                     "acct_used_flag": "0", "psn_setlway": "01", "mid_setl_flag": "0"}  # fmt: skip
        inpatient = _send(hospital, iborn("2304", {"mdtrtinfo": admission}, sign_no))
    assert settled["infcode"] == 0, settled["err_msg"]
    info = settled["output"]["setlinfo"]
    for field in ("hifp_pay", "maf_pay", "psn_part_amt"):
        assert Decimal(str(info[field])) == Decimal(native[field]), field
    assert undone["infcode"] == 0, undone["err_msg"]
    assert Decimal(str(undone["output"]["setlinfo"]["fund_pay_sumamt"])) == -Decimal(str(info["fund_pay_sumamt"]))
    assert inpatient["infcode"] == 0, inpatient["err_msg"]
    assert inpatient["output"]["setlinfo"]["med_type"] == "21"
    assert "no bill parts given" in inpatient["warn_msg"]


def test_codemiddleware_settles_and_recalls_with_every_value_a_string(registered: Any) -> None:
    """The Neusoft middleware's 2207 (``expContent`` "", ``invono`` "", amounts as strings with the
    parts) settles; its 2304 likewise; its 2601 undoes the 2304."""
    person = new_id("NS")
    with registered.client() as hospital, registered.client("admin") as admin:
        body = {"person_id": person, "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}
        assert admin.post("/v1/persons", json=body).status_code == 201
        clinic = [("psn_no", person), ("mdtrt_cert_type", "02"), ("mdtrt_cert_no", "440106199001011234"),
                  ("med_type", "11"), ("medfee_sumamt", "420.50"), ("psn_setlway", "01"), ("mdtrt_id", new_id("MZ")),
                  ("chrg_bchno", "1"), ("insutype", "390"), ("acct_used_flag", "0"), ("invono", None),
                  ("fulamt_ownpay_amt", "20.50"), ("overlmt_selfpay", "0"), ("preselfpay_amt", "0"),
                  ("inscp_scp_amt", "400.00"), ("expContent", None)]  # fmt: skip
        outpatient = _send(hospital, codemiddleware("2207", clinic))
        stay = [("psn_no", person), ("mdtrt_cert_type", "02"), ("mdtrt_cert_no", "440106199001011234"),
                ("medfee_sumamt", "30000.00"), ("psn_setlway", "01"), ("mdtrt_id", new_id("ZY")), ("insutype", "390"),
                ("acct_used_flag", "0"), ("invono", None), ("mid_setl_flag", "0"), ("fulamt_ownpay_amt", "1000.00"),
                ("overlmt_selfpay", "0.00"), ("preselfpay_amt", "0.00"), ("inscp_scp_amt", "29000.00")]  # fmt: skip
        admission_body = codemiddleware("2304", stay)
        inpatient = _send(hospital, admission_body)
        omsgid = json.loads(admission_body)["msgid"]
        recall = _send(hospital, codemiddleware("2601", [("psn_no", person), ("omsgid", omsgid), ("oinfno", "2304")]))
        three_decimals = [
            (k, "1.234" if k == "medfee_sumamt" else new_id("MZ") if k == "mdtrt_id" else v) for k, v in clinic
        ]
        refused = post(hospital, json.loads(codemiddleware("2207", three_decimals)))
    assert outpatient["infcode"] == 0, outpatient["err_msg"]
    assert Decimal(str(outpatient["output"]["setlinfo"]["inscp_scp_amt"])) == Decimal("400.00")
    assert inpatient["infcode"] == 0, inpatient["err_msg"]
    assert Decimal(str(inpatient["output"]["setlinfo"]["fulamt_ownpay_amt"])) == Decimal("1000.00")
    assert recall["infcode"] == 0, recall["err_msg"]
    assert recall["output"]["setlinfo"]["setl_id"] != inpatient["output"]["setlinfo"]["setl_id"]
    assert refused["infcode"] == -1
    assert "medfee_sumamt" in refused["err_msg"]


def test_a_lost_reversal_is_undone_by_2601(registered: Any) -> None:
    """The Neusoft middleware's 2208 whose answer is lost; 2601 with its msgid (``oinfno`` 2208) settles
    the claim again from its stored facts — the same amounts, a new settlement; a second 2601 finds
    the claim standing; a 2601 of a 2208 that never arrived marks it, and that 2208 reverses nothing."""
    person = new_id("NS")
    with registered.client() as hospital, registered.client("admin") as admin:
        body = {"person_id": person, "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}
        assert admin.post("/v1/persons", json=body).status_code == 201
        clinic = [("psn_no", person), ("med_type", "11"), ("medfee_sumamt", "420.50"), ("mdtrt_id", new_id("MZ")),
                  ("insutype", "390"), ("fulamt_ownpay_amt", "20.50"), ("overlmt_selfpay", "0"),
                  ("preselfpay_amt", "0"), ("inscp_scp_amt", "400.00")]  # fmt: skip
        settled = _send(hospital, codemiddleware("2207", clinic))["output"]["setlinfo"]
        refund = [("psn_no", person), ("setl_id", settled["setl_id"]), ("mdtrt_id", dict(clinic)["mdtrt_id"])]
        lost = codemiddleware("2208", refund)
        _send(hospital, lost)
        undo = [("psn_no", person), ("omsgid", json.loads(lost)["msgid"]), ("oinfno", "2208")]
        again = _send(hospital, codemiddleware("2601", undo))
        twice = _send(hospital, codemiddleware("2601", undo))
        never = codemiddleware("2208", refund)
        marked = _send(hospital, codemiddleware("2601", [*undo[:1], ("omsgid", json.loads(never)["msgid"]),
                                                          ("oinfno", "2208")]))  # fmt: skip
        late = post(hospital, json.loads(never))
        standing = hospital.get(f"/v1/settlements/{again['output']['setlinfo']['setl_id']}").json()
    assert again["infcode"] == 0, again["err_msg"]
    info = again["output"]["setlinfo"]
    assert info["setl_id"] != settled["setl_id"]
    for field in ("hifp_pay", "maf_pay", "psn_part_amt", "fund_pay_sumamt"):
        assert Decimal(str(info[field])) == Decimal(str(settled[field])), field
    assert "undone" in again["warn_msg"]
    assert twice["output"]["setl_id"] == info["setl_id"]  # another 2601 of it: the claim already stands again
    assert "stands again" in twice["warn_msg"]
    assert standing["status"] == "settled"
    assert "none will be" in marked["warn_msg"]
    assert late["infcode"] == -1  # its msgid is taken: it reverses nothing
