"""The service's books as files: export, statement and reconciliation of the export against itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.api.helpers import claim, register
from tests.api.servers import ROOT, Server, medrelief, prepare


def test_export_statement_and_reconcile(server: Server, tmp_path: Path) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin)
        ids = [
            hospital.post("/v1/settlements", json=claim(person, settle_date=f"2024-0{m}-01")).json()["setl_id"]
            for m in (3, 4, 5)
        ]
        assert hospital.post(f"/v1/settlements/{ids[-1]}/reversal").status_code == 201
    env = {**os.environ, "DATABASE_URL": server.database_url, "COLUMNS": "200"}
    exported = tmp_path / "settlements.csv"
    done = medrelief(env, "export", "settlements", "--out", str(exported))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = pd.read_csv(exported, dtype=str)
    mine = rows[rows["person_id"] == person]
    assert sorted(mine["kind"].tolist()) == ["reversal", "settlement", "settlement", "settlement"]
    assert mine[mine["kind"] == "reversal"]["refd_setl_flag"].tolist() == ["1"]
    totals = tmp_path / "totals.csv"
    page = tmp_path / "statement.html"
    done = medrelief(env, "statement", str(exported), "--out", str(totals), "--html", str(page))
    assert done.returncode == 0, done.stdout + done.stderr
    statement = pd.read_csv(totals, dtype=str)
    grand = statement[statement["dimension"] == "all"]["reversals"].tolist()
    assert grand == [str(int((rows["kind"] == "reversal").sum()))]
    assert "data:image/png;base64," in page.read_text(encoding="utf-8")
    done = medrelief(env, "statement", str(exported), "--out", str(totals), "--html", str(page), "--policy", "demo")
    assert done.returncode == 0, done.stdout + done.stderr
    named = pd.read_csv(totals, dtype=str).set_index(["dimension", "value"])["name"]
    assert named[("fund", "hifp_pay")] == "城乡居民基本医疗保险基金"
    assert "普通住院" in page.read_text(encoding="utf-8")
    same = medrelief(env, "reconcile", str(exported), str(exported))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "PASS" in same.stdout


def test_reconcile_endpoint_with_the_insurers_names(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin)
        first = hospital.post("/v1/settlements", json=claim(person, settle_date="2025-02-01")).json()
        second = hospital.post("/v1/settlements", json=claim(person, settle_date="2025-02-02")).json()
        rows = [
            {"结算ID": first["setl_id"], "hifp_pay": first["hifp_pay"], "othfund_pay": first["supp_pay"]},
            {"结算ID": second["setl_id"], "hifp_pay": "0.01", "othfund_pay": second["supp_pay"]},
            {"结算ID": "NOT-OURS", "hifp_pay": "1.00", "othfund_pay": "0.00"},
        ]
        body = {
            "from": "2025-02-01",
            "to": "2025-02-02",
            "rows": rows,
            "mapping": {"key": "结算ID", "columns": {"othfund_pay": "supp_pay"}},
        }
        unasked = insurer.post("/v1/reconciliations", json=body)  # our books carry more funds than the rows
        assert (unasked.status_code, unasked.json()["code"]) == (422, "not_reconcilable")
        assert "maf_pay: in ours only" in unasked.json()["detail"]
        body["fields"] = ["hifp_pay", "supp_pay"]
        response = insurer.post("/v1/reconciliations", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["verdict"] == "FAIL"
        assert result["compared"] == ["hifp_pay", "supp_pay"]
        assert result["not_compared"]["maf_pay"] == "ours only"
        assert result["counts"] == {
            "matched": 1,
            "amount_differs": 1,
            "only_ours": 0,
            "only_theirs": 1,
            "reversed_one_side": 0,
        }
        differs = [e for e in result["exceptions"] if e["outcome"] == "amount_differs"]
        assert differs == [
            {
                "key": second["setl_id"],
                "outcome": "amount_differs",
                "field": "hifp_pay",
                "ours": second["hifp_pay"],
                "theirs": "0.01",
                "note": "",
            }
        ]
        assert hospital.post("/v1/reconciliations", json=body).status_code == 403
        bad = insurer.post("/v1/reconciliations", json={**body, "rows": [{"结算ID": "x", "hifp_pay": "1.234"}]})
        assert (bad.status_code, bad.json()["code"]) == (422, "not_reconcilable")


def test_post_hoc_run_pays_adds_to_accumulators_and_runs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beijing 依申请救助 on the service's books, paid on application: of two 因病致贫 persons only the
    one whose application was approved (a case) is paid; the payment equals the batch command's
    given the same applicant, the case shows it, and the books stay consistent (Σ settlements +
    adjustments + post-hoc == accumulators)."""
    monkeypatch.setenv("MEDRELIEF_POLICY", "beijing")
    url = f"sqlite:///{tmp_path / 'bj.db'}"
    running = Server(url, prepare(url)).start()
    try:
        with running.client("admin") as admin, running.client() as hospital:
            person, other = register(admin, category="illness_poverty"), register(admin, category="illness_poverty")
            body = claim(person, medfee_sumamt="400000.00", fulamt_ownpay_amt="0.00", diagnosis="J18.9")
            assert hospital.post("/v1/settlements", json=body).status_code == 201
            assert (
                hospital.post("/v1/settlements", json={**body, "claim_id": "X2", "person_id": other}).status_code == 201
            )
            case = admin.post("/v1/cases", json={"person_id": person, "year": 2024, "state": "applied"}).json()
            approval = {"category": "illness_poverty", "effective_from": "2024-01-01", "note": "依申请救助"}
            assert admin.post(f"/v1/cases/{case['case_id']}/approval", json=approval).status_code == 200
            first = admin.post("/v1/post-hoc/2024")
            assert first.status_code == 201, first.text
            (program,) = first.json()["programs"]
            assert (program["program"], program["persons_paid"]) == ("on_application", 1)
            shown = admin.get(f"/v1/cases/{case['case_id']}").json()["post_hoc"]
            assert shown == [{"output": "on_application", "amount": program["paid"]}]
            again = admin.post("/v1/post-hoc/2024")
            assert (again.status_code, again.json()["code"]) == (409, "post_hoc_already_run")
    finally:
        running.stop()
    env = {**os.environ, "DATABASE_URL": url}
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    claims = tmp_path / "claims.csv"
    pd.DataFrame([{**body, "category": "illness_poverty", "accident": "0"}]).to_csv(claims, index=False)
    out = tmp_path / "post.csv"
    unasked = medrelief(env, "post-hoc", str(claims), "--out", str(out))
    assert unasked.returncode == 2
    assert "--applicants: program on_application pays on application" in unasked.stderr
    applicants = tmp_path / "applicants.csv"
    applicants.write_text(f"person_id,year\n{person},2024\n", encoding="utf-8")
    batch = medrelief(env, "post-hoc", str(claims), "--applicants", str(applicants), "--out", str(out))
    assert batch.returncode == 0, batch.stdout + batch.stderr
    assert pd.read_csv(out, dtype=str)["paid"].tolist() == [program["paid"]]
    assert program["paid"] != "0.00"


def test_tilted_assistance_counts_referred_care_in_the_province_on_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Yichang 倾斜救助 (``counts: {referral: true, out_of_province: false}``) on the service's books:
    a referred admission settled natively counts; a referred admission that a hospital in another
    province sends as NHSA 2304 (就医地 110100, 参保地 420500: 跨省, derived from the envelope) does
    not; the payment is the hand-checked 1,119.38 of tests/settlement/test_posthoc.py, the batch
    command agrees, and the books balance."""
    monkeypatch.setenv("MEDRELIEF_POLICY", "yichang")
    url = f"sqlite:///{tmp_path / 'yc.db'}"
    running = Server(url, prepare(url)).start()
    fields = {"medfee_sumamt": "300000.00", "fulamt_ownpay_amt": "0.00", "diagnosis": "J18.9", "hospital_level": 2}
    try:
        with running.client("admin") as admin, running.client() as hospital:
            person = register(admin, category="dibao")
            native = hospital.post(
                "/v1/settlements", json=claim(person, settle_date="2024-03-01", referral=True, **fields)
            )
            assert native.status_code == 201, native.text
            envelope = json.loads((ROOT / "examples" / "nhsa" / "2304-settle.json").read_text(encoding="utf-8"))
            envelope |= {"fixmedins_code": "H-ONE", "msgid": "YC-2304-1", "mdtrtarea_admvs": "110100",
                         "insuplc_admdvs": "420500"}  # fmt: skip
            envelope["input"]["data"] |= {"psn_no": person, "mdtrt_id": "YC-M2", "medfee_sumamt": 300000.0,
                                          "inscp_scp_amt": 300000.0, "setl_time": "2024-04-01 10:00:00",
                                          "exp_content": {"referral": "1"}}  # fmt: skip
            platform = hospital.post("/nhsa", json=envelope).json()
            assert platform["infcode"] == 0, platform["err_msg"]
            run = admin.post("/v1/post-hoc/2024")
            assert run.status_code == 201, run.text
            (program,) = run.json()["programs"]
            assert (program["program"], program["persons_paid"], program["paid"]) == ("tilted", 1, "1119.38")
    finally:
        running.stop()
    env = {**os.environ, "DATABASE_URL": url}
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rows = [{"claim_id": "K1", "settle_date": "2024-03-01", "out_of_province": "0"},
            {"claim_id": "K2", "settle_date": "2024-04-01", "out_of_province": "1"}]  # fmt: skip
    base = {"person_id": person, "category": "dibao", "med_type": "21", "hospital_level": "2", "diagnosis": "J18.9",
            "accident": "0", "medfee_sumamt": "300000.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
            "preselfpay_amt": "0", "referral": "1"}  # fmt: skip
    claims, out = tmp_path / "claims.csv", tmp_path / "post.csv"
    pd.DataFrame([{**base, **row} for row in rows]).to_csv(claims, index=False)
    batch = medrelief(env, "post-hoc", str(claims), "--out", str(out), "--policy", "yichang")
    assert batch.returncode == 0, batch.stdout + batch.stderr
    assert pd.read_csv(out, dtype=str)["paid"].tolist() == ["1119.38"]
