"""Fee details on the national interface, as real clients upload them, classified against the
region's catalogue (examples/catalogue: illustrative; the figures of tests/settlement/test_catalogue.py):

- fengzaiqishi11/hsa-his ``hsa-insure/.../unifiedpay/bo/impl/InsureUnifiedPayInptBOImpl.java``: 2301
  with ``input.data`` and ``input.feedetail`` (``input`` a JSON string), list codes named
  ``med_list_code`` / ``medins_list_code``, empty strings for what it does not know;
- liwerAKM/YbRefund ``YbRefund/Plat/Models/MZJS/T2204.cs``: 2204 with ``input.feedetail`` rows carrying
  ``mdtrt_id``, ``psn_no`` and ``chrg_bchno``; ``T2205``-shaped cancellation by batch.

Six rows of a stay: 阿莫西林 51.00 (甲), 利妥昔单抗 8,888.88 (乙 10%: 888.89 first), 床位 10 × 80.00
(限价 50: 300.00 over), 支架 7,000.00 (2025 version: 1,500.00 over, 825.00 first), 丙类 100.00, and a
code not in the catalogue, 66.66 — 16,906.54 in all: 全自费 166.66, 超限价 1,800.00, 先行自付
1,713.89, in-policy 13,225.99.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from tests.api.helpers import new_id
from tests.api.servers import ROOT, Server, medrelief
from tests.api.test_nhsa_clients import hsa_his, ok, post, registered, ybrefund

__all__ = ["registered"]  # the module's fixture: H-ONE a tier-2 hospital
CATALOGUE = ROOT / "examples" / "catalogue" / "demo-catalogue.csv"
ROWS = [  # (sn, code, cnt, pric, amount)
    ("1", "XJ01CAA040A001010100000", "2", "25.5", "51.00"),
    ("2", "XL01XC070B001010100000", "1", "8888.88", "8888.88"),
    ("3", "001102000010000", "10", "80", "800.00"),
    ("4", "C14060100100000", "1", "7000", "7000.00"),
    ("5", "250101001000000", "1", "100", "100.00"),
    ("6", "LOCAL-0001", "1", "66.66", "66.66"),
]


def _hsa_his_rows(mdtrt_id: str, person: str) -> list[dict[str, Any]]:
    """As ``InsureUnifiedPayInptBOImpl`` builds each row (the fields medrelief reads, and some it does not)."""
    return [
        {"feedetl_sn": sn, "init_feedetl_sn": "", "mdtrt_id": mdtrt_id, "drord_no": "", "psn_no": person,
         "med_type": "21", "fee_ocur_time": "2025-04-02 10:00:00", "med_list_code": code, "medins_list_code": f"H{sn}",
         "med_list_name": "", "cnt": float(cnt), "pric": float(pric), "det_item_fee_sumamt": float(amount),
         "bilg_dept_codg": "01", "hosp_appr_flag": "1", "etip_flag": "0", "matn_fee_flag": "0", "memo": ""}
        for sn, code, cnt, pric, amount in ROWS
    ]  # fmt: skip


def _admitted(hospital: Any, person: str) -> str:
    admission = {"mdtrtinfo": {"psn_no": person, "insutype": "390", "med_type": "21", "begntime": "2025-04-01 08:00:00",
                               "dscg_maindiag_code": "C34.9"}, "diseinfo": []}  # fmt: skip
    message = hsa_his("2401", {})
    message["input"] = json.dumps(admission, ensure_ascii=False)
    mdtrt_id: str = ok(hospital, message)["output"]["result"]["mdtrt_id"]
    return mdtrt_id


def test_a_stay_s_details_are_classified_and_give_the_settlement_its_parts(registered: Server) -> None:
    env = {**os.environ, "DATABASE_URL": registered.database_url}
    loaded = medrelief(env, "catalogue", "load", str(CATALOGUE))
    assert "6 versions of 5 list codes" in loaded.stdout, loaded.stdout + loaded.stderr
    with registered.client() as hospital, registered.client("admin") as admin:
        person, twin = new_id("DP"), new_id("DP")
        for someone in (person, twin):
            body = {"person_id": someone, "identities": [{"category": "dibao", "valid_from": "2025-01-01"}]}
            assert admin.post("/v1/persons", json=body).status_code == 201
        mdtrt_id = _admitted(hospital, person)
        upload = hsa_his("2301", {})
        upload["input"] = json.dumps({"data": {"mdtrt_id": mdtrt_id, "psn_no": person},
                                      "feedetail": _hsa_his_rows(mdtrt_id, person)}, ensure_ascii=False)  # fmt: skip
        result = {r["feedetl_sn"]: r for r in ok(hospital, upload)["output"]["result"]}
        assert ok(hospital, upload)["output"]["result"] == list(result.values())  # a retry: the same answer
        again = hsa_his("2301", {})
        again["input"] = upload["input"]
        refused = post(hospital, again)  # the same rows under a new msgid: already uploaded
        wrong = {"psn_no": person, "mdtrt_id": mdtrt_id, "medfee_sumamt": 16906.54, "fulamt_ownpay_amt": 100}
        disagrees = post(hospital, ybrefund("2304", {"data": wrong}, inf_time="2025-04-10 11:00:00"))
        settle = {"psn_no": person, "mdtrt_id": mdtrt_id, "medfee_sumamt": 16906.54}
        answer = ok(hospital, ybrefund("2304", {"data": settle}, inf_time="2025-04-10 11:00:00"))
        native = {"claim_id": new_id("C"), "person_id": twin, "med_type": "21", "hospital_level": 2,
                  "settle_date": "2025-04-10", "admission_date": "2025-04-01", "diagnosis": "C34.9",
                  "medfee_sumamt": "16906.54", "fulamt_ownpay_amt": "166.66", "overlmt_selfpay": "1800.00",
                  "preselfpay_amt": "1713.89"}  # fmt: skip
        same = hospital.post("/v1/settlements/pre", json=native).json()
        late = post(
            hospital, ybrefund("2302", {"data": {"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": person}})
        )
        setl_id = answer["output"]["setlinfo"]["setl_id"]
        listed = ok(hospital, ybrefund("5204", {"data": {"setl_id": setl_id, "psn_no": person, "mdtrt_id": mdtrt_id}}))
    assert result["2"]["preselfpay_amt"] == 888.89
    assert result["2"]["selfpay_prop"] == 0.1
    assert (result["3"]["overlmt_amt"], result["3"]["pric_uplmt_amt"]) == (300.0, 50.0)
    assert (result["4"]["overlmt_amt"], result["4"]["preselfpay_amt"], result["4"]["inscp_scp_amt"]) == (
        1500.0,
        825.0,
        4675.0,
    )
    assert (result["5"]["fulamt_ownpay_amt"], result["5"]["chrgitm_lv"]) == (100.0, "03")
    assert result["6"]["fulamt_ownpay_amt"] == 66.66
    assert "not in the medical-insurance catalogue" in result["6"]["memo"]
    assert refused["infcode"] == -1
    assert "already uploaded" in refused["err_msg"]
    assert disagrees["infcode"] == -1
    assert "input.data.fulamt_ownpay_amt" in disagrees["err_msg"]
    assert "166.66" in disagrees["err_msg"]
    info = answer["output"]["setlinfo"]
    assert Decimal(str(info["inscp_scp_amt"])) == Decimal("13225.99")
    for field in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt", "fulamt_ownpay_amt", "overlmt_selfpay",
                  "preselfpay_amt"):  # fmt: skip
        assert Decimal(str(info[field])) == Decimal(same[field]), field
    assert "sum of the visit's 6 fee details" in answer["warn_msg"]
    assert late["infcode"] == -1
    assert "reverse the settlement first" in late["err_msg"]
    rows = listed["output"]["feedetail"]
    assert [r["feedetl_sn"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert sum(Decimal(str(r["det_item_fee_sumamt"])) for r in rows) == Decimal("16906.54")


def test_an_outpatient_batch_cancelled_leaves_the_bill_without_details(registered: Server) -> None:
    """YbRefund's 2204 (rows with ``chrg_bchno``), then 2205 cancels the batch: the 2207 that follows
    has no details to take parts from and settles as sent (with the no-parts warning)."""
    with registered.client() as hospital:
        person = new_id("OP")
        registration = {"data": {"psn_no": person, "insutype": "390", "begntime": "2025-05-06 09:00:00",
                                 "mdtrt_cert_type": "02", "mdtrt_cert_no": "320602199001011234"}}  # fmt: skip
        visit = ok(hospital, ybrefund("2201", registration))["output"]["data"]["mdtrt_id"]
        rows = [{"feedetl_sn": "A1", "mdtrt_id": visit, "psn_no": person, "chrg_bchno": "B1", "dise_codg": "",
                 "rxno": "", "rx_circ_flag": "0", "fee_ocur_time": "2025-05-06 09:30:00",
                 "med_list_codg": "XJ01CAA040A001010100000", "medins_list_codg": "H1", "det_item_fee_sumamt": 51.0,
                 "cnt": 2, "pric": 25.5, "sin_dos_dscr": None, "hosp_appr_flag": "1"}]  # fmt: skip
        uploaded = ok(hospital, ybrefund("2204", {"feedetail": rows}))["output"]["result"]
        bad = post(
            hospital, ybrefund("2204", {"feedetail": [{**rows[0], "feedetl_sn": "A2", "det_item_fee_sumamt": 52}]})
        )
        ok(hospital, ybrefund("2205", {"data": {"mdtrt_id": visit, "chrg_bchno": "B1", "psn_no": person}}))
        data = {"psn_no": person, "mdtrt_id": visit, "chrg_bchno": "B1", "medfee_sumamt": 51}
        settled = ok(hospital, ybrefund("2207", {"data": data}, inf_time="2025-05-06 10:00:00"))
    assert uploaded[0]["inscp_scp_amt"] == 51.0
    assert bad["infcode"] == -1
    assert "input.feedetail.0.det_item_fee_sumamt" in bad["err_msg"]
    assert "no bill parts given" in settled["warn_msg"]


def test_2601_undoes_an_upload_whose_answer_was_lost(registered: Server) -> None:
    """YbRefund's 2204 whose answer never came back: the HIS sends 2601 with its msgid (``T2601``:
    ``psn_no``, ``omsgid``, ``oinfno``) — the rows it stored are cancelled (5204 shows them invalid)
    and the 2207 that follows has no details to take parts from. A 2601 that overtakes its upload
    marks the msgid: the upload, when it lands, stores nothing."""
    with registered.client() as hospital:
        person = new_id("OP")
        registration = {"data": {"psn_no": person, "insutype": "390", "begntime": "2025-05-07 09:00:00",
                                 "mdtrt_cert_type": "02", "mdtrt_cert_no": "320602199001011234"}}  # fmt: skip
        visit = ok(hospital, ybrefund("2201", registration))["output"]["data"]["mdtrt_id"]
        row = {"feedetl_sn": "U1", "mdtrt_id": visit, "psn_no": person, "chrg_bchno": "B9", "fee_ocur_time":
               "2025-05-07 09:30:00", "med_list_codg": "XJ01CAA040A001010100000", "medins_list_codg": "H1",
               "det_item_fee_sumamt": 51.0, "cnt": 2, "pric": 25.5, "hosp_appr_flag": "1"}  # fmt: skip
        upload = ybrefund("2204", {"feedetail": [row, {**row, "feedetl_sn": "U2"}]})
        ok(hospital, upload)
        undo = {"data": {"psn_no": person, "omsgid": upload["msgid"], "oinfno": "2204"}}
        undone = ok(hospital, ybrefund("2601", undo))
        listed = ok(hospital, ybrefund("5204", {"data": {"psn_no": person, "mdtrt_id": visit}}))["output"]
        late = ybrefund("2204", {"feedetail": [{**row, "feedetl_sn": "U3"}]})
        ok(hospital, ybrefund("2601", {"data": {"psn_no": person, "omsgid": late["msgid"], "oinfno": "2204"}}))
        landed = ok(hospital, late)
        after = ok(hospital, ybrefund("5204", {"data": {"psn_no": person, "mdtrt_id": visit}}))["output"]
        data = {"psn_no": person, "mdtrt_id": visit, "medfee_sumamt": 102}
        settled = ok(hospital, ybrefund("2207", {"data": data}, inf_time="2025-05-07 10:00:00"))
    assert undone["output"]["feedetl_sn"] == ["U1", "U2"]
    assert [(r["feedetl_sn"], r["vali_flag"]) for r in listed["feedetail"]] == [("U1", "0"), ("U2", "0")]
    assert "undone by 2601" in landed["warn_msg"]
    assert [r["feedetl_sn"] for r in after["feedetail"]] == ["U1", "U2"]  # U3 never stored
    assert "no bill parts given" in settled["warn_msg"]


def test_2001_says_what_each_fund_would_do_for_the_person(registered: Server) -> None:
    """2001 人员待遇享受检查 as YbRefund sends it (``data``: psn_no, insutype, med_type, begntime,
    dise_codg): a 低保 patient with a major disease is covered by every layer under demo; a person
    with no relief identity by the insurance layers only; an unknown person is refused."""
    with registered.client() as hospital, registered.client("admin") as admin:
        poor, other = new_id("EP"), new_id("EP")
        identities = {poor: [{"category": "dibao", "valid_from": "2025-01-01"}], other: []}
        for person, held in identities.items():
            assert admin.post("/v1/persons", json={"person_id": person, "identities": held}).status_code == 201

        def asked(person: str) -> dict[str, Any]:
            data = {"psn_no": person, "insutype": "390", "fixmedins_code": "H-ONE", "med_type": "21",
                    "begntime": "2025-04-01 08:00:00", "endtime": "", "dise_codg": "C34.9"}  # fmt: skip
            return post(hospital, ybrefund("2001", {"data": data}))

        covered, uncovered, unknown = asked(poor), asked(other), asked(new_id("NOBODY"))
    flags = {r["fund_pay_type"]: r["trt_enjymnt_flag"] for r in covered["output"]["trtinfo"]}
    assert flags == {"390100": "1", "390200": "1", "610100": "1", "999109": "1"}
    rows = {r["fund_pay_type"]: r for r in uncovered["output"]["trtinfo"]}
    assert (rows["390100"]["trt_enjymnt_flag"], rows["610100"]["trt_enjymnt_flag"]) == ("1", "0")
    assert "no rule for general" in rows["610100"]["trt_chk_rslt"]
    assert rows["390100"]["begndate"] == "2025-04-01"
    assert unknown["infcode"] == -1
    assert "person_not_found" in unknown["err_msg"]


def test_3202_row_by_row_with_an_uploaded_file_and_inline(registered: Server) -> None:
    """9101 as YbRefund uploads (``fsUploadIn``: the zip's bytes base64, ``filename``), 3202 naming its
    ``file_qury_no``, 9102 downloading the result (``application/octet-stream``, a zip of tab-separated
    rows); then hsa-his's 3202 with the rows inline (``updateUP_3202``: ``fsUploadIn`` a list beside
    ``data``, ``input`` a JSON string)."""
    import base64
    import io
    import zipfile

    with registered.client() as hospital:
        person = new_id("RP")
        setl = {}
        for name, amount in (("A", 800), ("B", 500)):
            data = {"psn_no": person, "mdtrt_id": new_id("RM"), "med_type": "11", "medfee_sumamt": amount}
            info = ok(hospital, ybrefund("2207", {"data": data}, inf_time="2025-06-15 10:00:00"))["output"]["setlinfo"]
            setl[name] = (info["setl_id"], data["mdtrt_id"], info["fund_pay_sumamt"])
        rows = [
            [setl["A"][0], setl["A"][1], person, "800.00", f"{setl['A'][2]:.2f}", "0.00", "0"],
            [setl["B"][0], setl["B"][1], person, "500.00", "1.00", "0.00", "0"],  # the hospital's figure is wrong
            ["X-UNKNOWN", "M0", person, "10.00", "5.00", "0.00", "0"],
        ]
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as archive:
            archive.writestr("3202.txt", "\n".join("\t".join(r) for r in rows) + "\n")
        upload = {"fsUploadIn": {"in": base64.b64encode(packed.getvalue()).decode(), "filename": "3202.zip",
                                 "fixmedins_code": "H-ONE"}}  # fmt: skip
        number = ok(hospital, ybrefund("9101", upload))["output"]["file_qury_no"]
        totals = {"stmt_begndate": "2025-06-15", "stmt_enddate": "2025-06-15", "clr_type": "11",
                  "medfee_sumamt": 1300, "fund_pay_sumamt": setl["A"][2] + setl["B"][2], "fixmedins_setl_cnt": 2,
                  "refd_setl_flag": "0"}  # fmt: skip
        compared = ok(hospital, ybrefund("3202", {"data": {**totals, "file_qury_no": number}}))["output"]
        wanted = {"file_qury_no": compared["fileinfo"]["file_qury_no"], "filename": "r.zip", "fixmedins_code": "H-ONE"}
        result = hospital.post("/nhsa", json=ybrefund("9102", {"fsDownloadIn": wanted}))
        inline = hsa_his("3202", {})
        inline_rows = [{"psn_no": person, "mdtrt_id": setl[k][1], "setl_id": setl[k][0], "medfee_sumamt": amount,
                        "fund_pay_sumamt": setl[k][2], "acct_pay": 0, "refd_setl_flag": "0", "type": "本市参保"}
                       for k, amount in (("A", 800), ("B", 500))]  # fmt: skip
        inline["input"] = json.dumps({"data": totals, "fsUploadIn": inline_rows, "flag": "1"}, ensure_ascii=False)
        balanced = ok(hospital, inline)["output"]
    assert compared["rows"] == {"rows_0": 1, "rows_1": 1, "rows_2": 1, "rows_3": 0}
    assert compared["stmtinfo"]["stmt_rslt"] == "1"
    assert result.headers["content-type"] == "application/octet-stream"
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        lines = [line.split("\t") for line in archive.read(archive.namelist()[0]).decode().splitlines()]
    by_setl = {line[2]: line for line in lines}
    assert by_setl[setl["A"][0]][4] == "0"
    assert by_setl[setl["B"][0]][4] == "1"
    assert "ours: medfee 500.00" in by_setl[setl["B"][0]][6]
    assert by_setl["X-UNKNOWN"][4] == "2"
    assert balanced["rows"] == {"rows_0": 2, "rows_1": 0, "rows_2": 0, "rows_3": 0}
    assert balanced["stmtinfo"]["stmt_rslt"] == "0"
