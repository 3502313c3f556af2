"""The platform-shaped endpoint: the sample requests in examples/nhsa/, round trips against the native API and the CLI.

The sample 2304 is the hand-checked claim of tests/settlement/simulation/test_outcomes.py (P1):
低保, inpatient level 2, 60,000.00, J18.9 on 2025-03-01 → basic 47,600.00, 大病 3,185.00,
救助 6,911.25, the person pays 2,303.75. The relief identity comes from the registry (the
civil-affairs side registers it); what a hospital's message says of it is only checked.
"""

from __future__ import annotations

import json
import os
import uuid
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from api.routes.nhsa_statements import FILE_COLUMNS
from tests.api.helpers import new_id, register
from tests.api.servers import ROOT, Server, medrelief

EXAMPLES = ROOT / "examples" / "nhsa"


def request(name: str, **data: Any) -> dict[str, Any]:
    """A sample request for hospital H-ONE with a fresh msgid, ``data`` fields replaced."""
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    body["fixmedins_code"] = "H-ONE"
    body["msgid"] = uuid.uuid4().hex[:30]
    body["input"]["data"].update(data)
    return body


def call(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/nhsa", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["inf_refmsgid"][:6] == body.get("mdtrtarea_admvs", "000000")[:6] or answer["infcode"] == -1
    return answer


def ok(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = call(client, body)
    assert answer["infcode"] == 0, answer["err_msg"]
    output: dict[str, Any] = answer["output"]
    return output


def _fresh(admin: httpx.Client | None = None, category: str = "dibao") -> dict[str, str]:
    """A new person's visit; with ``admin``, the person registered with ``category`` from 2025-01-01."""
    ids = {"psn_no": new_id("NP"), "mdtrt_id": new_id("M")}
    if admin is not None:
        body = {"person_id": ids["psn_no"], "identities": [{"category": category, "valid_from": "2025-01-01"}]}
        assert admin.post("/v1/persons", json=body).status_code == 201
    return ids


def test_2304_settles_like_the_native_api_and_the_cli(server: Server, tmp_path: Path) -> None:
    with server.client() as hospital, server.client("admin") as admin:
        out = ok(hospital, request("2304-settle", **_fresh(admin)))
        native_person = register(admin, "dibao", "2025-01-01")
        native = {
            "claim_id": new_id("C"), "person_id": native_person, "med_type": "21", "hospital_level": 2,
            "settle_date": "2025-03-01", "diagnosis": "J18.9", "medfee_sumamt": "60000.00",
        }  # fmt: skip
        same = hospital.post("/v1/settlements", json=native).json()
    info = out["setlinfo"]
    expected = {"hifp_pay": "47600.00", "hifmi_pay": "3185.00", "maf_pay": "6911.25", "psn_part_amt": "2303.75"}
    for field, amount in expected.items():
        assert Decimal(str(info[field])) == Decimal(amount) == Decimal(same[field]), field
    assert info["oth_pay"] == 0
    assert Decimal(str(info["fund_pay_sumamt"])) == Decimal("57696.25")
    assert info["pool_prop_selfpay"] == 0.8
    assert info["relief_category"] == "dibao"
    detail = {row["fund_pay_type"]: row for row in out["setldetail"]}
    assert set(detail) == {"390100", "390200", "610100", "999109"}  # codes from the demo policy file
    assert detail["390100"]["fund_payamt"] == 47600.0
    assert detail["390100"]["crt_payb_lmt_amt"] == 202400.0  # cap 250,000 − 47,600
    assert detail["390200"]["crt_payb_lmt_amt"] is None  # 低保: cap lifted
    assert detail["610100"]["crt_payb_lmt_amt"] == 18088.75  # cap 25,000 − 6,911.25
    claims = tmp_path / "claims.csv"
    row = {**native, "category": "dibao", "accident": "0", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0"}
    pd.DataFrame([{**row, "preselfpay_amt": "0"}]).to_csv(claims, index=False)
    done = medrelief({**os.environ}, "settle", str(claims), "--out", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    cli = pd.read_csv(tmp_path / "out.csv", dtype=str).iloc[0]
    for field, amount in expected.items():
        assert Decimal(cli[field]) == Decimal(amount)


def test_msgid_is_the_idempotency_key(server: Server) -> None:
    with server.client() as hospital, server.client("admin") as admin:
        body = request("2304-settle", **_fresh(admin))
        first, again = ok(hospital, body), ok(hospital, body)
        assert again["setlinfo"]["setl_id"] == first["setlinfo"]["setl_id"]
        changed = {**body, "input": {"data": {**body["input"]["data"], "medfee_sumamt": 1000, "inscp_scp_amt": 1000}}}
        refused = call(hospital, changed)
    assert refused["infcode"] == -1
    assert "idempotency_key_reused" in refused["err_msg"]


def test_2305_reverses_and_5203_5206_read_the_books(server: Server) -> None:
    with server.client() as hospital, server.client("admin") as admin:
        ids = _fresh(admin)
        settled = ok(hospital, request("2304-settle", **ids))["setlinfo"]
        queried = ok(hospital, request("5203-query", psn_no=ids["psn_no"], setl_id=settled["setl_id"]))["setlinfo"]
        assert queried["medins_setl_id"] is None  # the settlement's msgid is not kept with it
        # nor what only the message said: its time of day, 凭证类型 and 参保地
        assert (queried["setl_time"], queried["mdtrt_cert_type"], queried["clr_optins"]) == (
            "2025-03-01 00:00:00",
            "",
            "",
        )
        message_only = ("medins_setl_id", "setl_time", "mdtrt_cert_type", "clr_optins")
        assert {**queried, **{f: settled[f] for f in message_only}} == settled
        used = ok(hospital, request("5206-accumulators", psn_no=ids["psn_no"]))
        # the platform's 累计类别 as HIS clients read them (hsa-his 结算单): 60,000.00 住院 at level 2
        cum = {row["cum_type_code"]: row["cum"] for row in used["cuminfo"]}
        assert {c: cum[c] for c in ("C0000", "C0000_BIZ21", "F0000", "S0000_BIZ21", "Q0000")} == {
            "C0000": 1, "C0000_BIZ21": 1, "F0000": 60000.0, "S0000_BIZ21": 60000.0, "Q0000": 500.0,
        }  # fmt: skip
        # per fund, D<fund_pay_type>: basic 47,600.00, 大病 3,185.00, 救助 6,911.25; 大病's base TS390200
        assert (cum["D390100"], cum["D390200"], cum["D610100"]) == (47600.0, 3185.0, 6911.25)
        assert cum["TS390200"] == 12400.0
        paid = {(row["layer"], row["bucket"]): row["cum"] for row in used["bucketinfo"]}
        assert paid[("basic", "inpatient")] == 47600.0
        assert used["relief_category"] == "dibao"
        reversal = request("2305-reversal", setl_id=settled["setl_id"], psn_no=ids["psn_no"], mdtrt_id=ids["mdtrt_id"])
        reversed_ = ok(hospital, reversal)["setlinfo"]
        assert reversed_["hifp_pay"] == -47600.0
        assert reversed_["psn_part_amt"] == -2303.75
        assert ok(hospital, reversal)["setlinfo"]["setl_id"] == reversed_["setl_id"]  # same msgid: replayed
        twice = call(hospital, {**reversal, "msgid": uuid.uuid4().hex[:30]})
        assert twice["infcode"] == -1
        assert "already_reversed" in twice["err_msg"]
        after = ok(hospital, request("5206-accumulators", psn_no=ids["psn_no"]))
        assert {row["cum"] for row in after["cuminfo"]} == {0.0}
    with server.client("hospital2") as other:
        foreign = request("5203-query", psn_no=ids["psn_no"], setl_id=settled["setl_id"])
        foreign["fixmedins_code"] = "H-TWO"
        assert "no settlement" in call(other, foreign)["err_msg"]


def test_2303_pre_settles_and_stores_nothing(server: Server) -> None:
    with server.client() as hospital, server.client("admin") as admin:
        ids = _fresh(admin)
        trial = ok(hospital, request("2303-pre-settle", **ids))["setlinfo"]
        assert trial["setl_id"] is None
        assert trial["maf_pay"] == 6911.25
        nothing = call(hospital, request("5206-accumulators", psn_no=ids["psn_no"]))
        assert nothing["infcode"] == 0
        assert nothing["output"]["relief_category"] == "dibao"
        assert {row["cum"] for row in nothing["output"]["cuminfo"]} == {0.0}
        stranger = _fresh()  # not registered: pre-settled without a relief identity, and told so
        unknown = call(hospital, request("2303-pre-settle", **stranger))
        assert unknown["infcode"] == 0
        assert unknown["output"]["setlinfo"]["maf_pay"] == 0.0
        assert "holds no relief identity" in unknown["warn_msg"]
        assert "not in the registry" in unknown["warn_msg"]  # its idetinfo says 低保
        missing = call(hospital, request("5203-query", psn_no=stranger["psn_no"], setl_id="S-none"))
        assert missing["infcode"] == -1


def test_outpatient_2207_equals_native_and_cli_and_2208_reverses_it(server: Server, tmp_path: Path) -> None:
    """门诊慢特病 1,200.00 (100.00 全自费), E11.9, level 2, 低保 from exp_content: basic 60% × 1,100 =
    660.00, 大病 0 (below 7,500), 救助 75% × 440 = 330.00, the person pays 210.00."""
    extension = {"relief_category": "dibao"}
    with server.client() as hospital, server.client("admin") as admin:
        ids = _fresh(admin)
        trial = ok(hospital, request("2206-pre-settle", **ids, exp_content=json.dumps(extension)))["setlinfo"]
        settled = ok(hospital, request("2207-settle", **ids, exp_content=extension))["setlinfo"]
        twin = register(admin, "dibao", "2025-01-01")
        native = {"claim_id": new_id("C"), "person_id": twin, "med_type": "14", "hospital_level": 2}
        native |= {"settle_date": "2025-03-01", "diagnosis": "E11.9", "medfee_sumamt": "1200.00"}
        native |= {"fulamt_ownpay_amt": "100.00"}
        same = hospital.post("/v1/settlements", json=native).json()
        reversed_ = ok(hospital, request("2208-reversal", setl_id=settled["setl_id"], psn_no=ids["psn_no"]))
    claims = tmp_path / "claims.csv"
    row = {**native, "category": "dibao", "accident": "0", "overlmt_selfpay": "0", "preselfpay_amt": "0"}
    pd.DataFrame([row]).to_csv(claims, index=False)
    assert medrelief({**os.environ}, "settle", str(claims), "--out", str(tmp_path / "out.csv")).returncode == 0
    cli = pd.read_csv(tmp_path / "out.csv", dtype=str).iloc[0]
    assert (settled["hifp_pay"], settled["maf_pay"], settled["psn_part_amt"]) == (660.0, 330.0, 210.0)
    for field in (
        "inscp_scp_amt",
        "act_pay_dedc",
        "hifp_pay",
        "hifmi_pay",
        "maf_pay",
        "fund_pay_sumamt",
        "psn_part_amt",
    ):
        assert Decimal(str(trial[field])) == Decimal(str(settled[field])) == Decimal(same[field]) == Decimal(cli[field])
    assert settled["mdtrt_id"] == ids["mdtrt_id"]
    assert reversed_["setlinfo"]["hifp_pay"] == -660.0
    assert reversed_["setlinfo"]["maf_pay"] == -330.0


def test_3201_totals_equal_the_statement_and_3202_lists_the_detail(server: Server, tmp_path: Path) -> None:
    period = {"stmt_begndate": "2025-09-01", "stmt_enddate": "2025-09-30"}
    with server.client() as hospital, server.client("admin") as admin:
        for day in ("2025-09-03", "2025-09-17"):
            ok(hospital, request("2304-settle", **_fresh(admin), setl_time=f"{day} 10:00:00"))
        env = {**os.environ, "DATABASE_URL": server.database_url}
        exported = tmp_path / "settlements.csv"
        assert (
            medrelief(
                env, "export", "settlements", "--from", "2025-09-01", "--to", "2025-09-30", "--out", str(exported)
            ).returncode
            == 0
        )
        totals = tmp_path / "totals.csv"
        assert medrelief(env, "statement", str(exported), "--out", str(totals)).returncode == 0
        statement = pd.read_csv(totals, dtype=str)
        row = statement[(statement["dimension"] == "hospital") & (statement["value"] == "H-ONE")].iloc[0]
        claimed = {"medfee_sumamt": row["medfee_sumamt"], "fund_pay_sumamt": row["fund_pay_sumamt"]}
        count = int(row["settlements"])
        balanced = ok(
            hospital,
            request("3201-totals", **period, **claimed, fixmedins_setl_cnt=count, refd_setl_flag="0", clr_type="21"),
        )
        assert balanced["stmtinfo"]["stmt_rslt"] == "0", balanced["stmtinfo"]
        assert balanced["totals"]["fund_pay_sumamt"] == float(row["fund_pay_sumamt"])
        off = ok(
            hospital,
            request(
                "3201-totals", **period, **claimed, fixmedins_setl_cnt=count + 1, refd_setl_flag="0", clr_type="21"
            ),
        )
        assert off["stmtinfo"]["stmt_rslt"] == "1"
        assert f"fixmedins_setl_cnt: ours {count}, yours {count + 1}" in off["stmtinfo"]["stmt_rslt_dscr"]
        detail = ok(
            hospital,
            request("3202-detail", **period, **claimed, fixmedins_setl_cnt=count, refd_setl_flag="0", clr_type="21"),
        )
        assert detail["stmtinfo"]["stmt_rslt"] == "0"
        file = hospital.get(f"/nhsa/files/{detail['fileinfo']['file_qury_no']}")
        empty = hospital.get("/nhsa/files/00010101000101010")  # a period without settlements
    assert (empty.status_code, empty.text.strip()) == (200, ",".join(FILE_COLUMNS))
    assert file.status_code == 200
    rows = pd.read_csv(StringIO(file.text), dtype=str)
    assert len(rows) == count == 2
    assert sum(Decimal(v) for v in rows["fund_pay_sumamt"]) == Decimal(row["fund_pay_sumamt"])


def test_the_3202_file_lists_adjustments_as_rows_of_their_own(server: Server) -> None:
    """A claim settled before a back-dated 低保 grant: the file has its settlement row and its
    adjustment row, and together they pay what a 低保 person's claim pays from the start."""
    period = {"stmt_begndate": "2025-10-06", "stmt_enddate": "2025-10-06"}
    visit = {"setl_time": "2025-10-06 10:00:00"}
    with server.client() as hospital, server.client("admin") as admin:
        late = _fresh()
        assert admin.post("/v1/persons", json={"person_id": late["psn_no"], "identities": []}).status_code == 201
        setl_id = ok(hospital, request("2304-settle", **late, **visit))["setlinfo"]["setl_id"]
        grant = {"category": "dibao", "valid_from": "2025-01-01"}
        assert admin.post(f"/v1/persons/{late['psn_no']}/identities", json=grant).status_code == 201
        twin = ok(hospital, request("2303-pre-settle", **_fresh(admin), **visit))["setlinfo"]
        detail = ok(
            hospital, request("3202-detail", **period, medfee_sumamt=0, fund_pay_sumamt=0, fixmedins_setl_cnt=0)
        )
        file = hospital.get(f"/nhsa/files/{detail['fileinfo']['file_qury_no']}")
    assert file.status_code == 200
    rows = pd.read_csv(StringIO(file.text), dtype=str, keep_default_na=False)
    assert list(rows.columns) == FILE_COLUMNS
    mine = rows[rows["psn_no"] == late["psn_no"]]
    settled, adjusted = mine[mine["setl_id"] == setl_id], mine[mine["setl_id"] != setl_id]
    assert len(settled) == len(adjusted) == 1
    assert adjusted.iloc[0]["setl_id"].endswith("/" + setl_id)
    assert adjusted.iloc[0]["memo"] == f"adjustment of {setl_id}"
    assert (adjusted.iloc[0]["medfee_sumamt"], adjusted.iloc[0]["refd_setl_flag"]) == ("0.00", "0")
    assert Decimal(adjusted.iloc[0]["fund_pay_sumamt"]) > 0
    assert sum(Decimal(v) for v in mine["fund_pay_sumamt"]) == Decimal(str(twin["fund_pay_sumamt"]))


def test_errors_come_back_in_the_envelope(server: Server) -> None:
    with server.client() as hospital:
        bad_amount = call(hospital, request("2304-settle", **_fresh(), medfee_sumamt="1.005"))
        assert bad_amount["infcode"] == -1
        assert bad_amount["err_msg"].startswith("input.data.medfee_sumamt:")
        parts = call(hospital, request("2304-settle", **_fresh(), inscp_scp_amt=59000))
        assert "input.data.inscp_scp_amt" in parts["err_msg"]
        code = call(
            hospital, request("2304-settle", **_fresh(), idetinfo=[{"psn_idet_type": "9999", "begntime": "2025-01-01"}])
        )
        assert code["infcode"] == 0
        assert "psn_idet_type '9999' is not a code of policy demo" in code["warn_msg"]
        compact = call(hospital, request("2304-settle", **_fresh(), setl_time="20250610093000"))
        assert compact["infcode"] == -1
        assert compact["err_msg"].startswith("input.data.setl_time:")
        unknown = call(hospital, {**request("2304-settle"), "infno": "9999"})
        assert "transaction 9999 is not offered" in unknown["err_msg"]
        foreign = call(hospital, {**request("2304-settle"), "fixmedins_code": "H-TWO"})
        assert "not the institution of this API key" in foreign["err_msg"]
        broken = hospital.post("/nhsa", content=b"{not json", headers={"Content-Type": "application/json"})
        assert broken.status_code == 200
        assert broken.json()["infcode"] == -1
    anonymous = httpx.post(server.base_url + "/nhsa", json=request("2304-settle"))
    assert anonymous.status_code == 401
    assert anonymous.json()["infcode"] == -1


def test_first_sight_of_a_person_from_parallel_messages(server: Server) -> None:
    """Eight settlements of one new person at once: the person is registered once, every message
    settles (without a relief identity: the 低保 its idetinfo claims is not the registry's, and is
    not recorded) and the books add up."""
    from concurrent.futures import ThreadPoolExecutor

    person = new_id("NP")

    def one(i: int) -> dict[str, Any]:
        with server.client() as hospital:
            return call(
                hospital,
                request("2304-settle", psn_no=person, mdtrt_id=f"{person}-{i}", medfee_sumamt=1000, inscp_scp_amt=1000),
            )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    assert [a["infcode"] for a in answers] == [0] * 8, [a["err_msg"] for a in answers]
    with server.client("admin") as admin:
        registered = admin.get(f"/v1/persons/{person}").json()
    assert registered["identities"] == []
    assert all("holds no relief identity" in a["warn_msg"] for a in answers)
    checked = medrelief({**os.environ, "DATABASE_URL": server.database_url}, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
