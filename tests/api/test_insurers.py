"""Insurers over HTTP: the statement of a period and the second payout posted into the books."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pandas as pd

from tests.api.helpers import claim, register
from tests.api.servers import Server, medrelief


def test_statement_endpoint_equals_the_cli_statement(server: Server, tmp_path: Path) -> None:
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin, "dibao", "2026-01-01")
        ids = [
            hospital.post("/v1/settlements", json=claim(person, settle_date=f"2026-0{m}-01")).json()["setl_id"]
            for m in (3, 4)
        ]
        assert hospital.post(f"/v1/settlements/{ids[0]}/reversal").status_code == 201
        answer = insurer.get("/v1/statements", params={"from": "2026-01-01", "to": "2026-12-31"})
        page = insurer.get("/v1/statements", params={"from": "2026-01-01", "to": "2026-12-31", "format": "html"})
        empty = insurer.get("/v1/statements", params={"from": "2030-01-01", "to": "2030-12-31", "format": "html"})
        refused = hospital.get("/v1/statements", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert answer.status_code == 200, answer.text
    assert refused.status_code == 403
    assert empty.status_code == 404
    assert "data:image/png;base64," in page.text
    assert ">示范市 (fictional)</td>" in page.text  # the issuer: the policy's region, unless the caller names one
    assert "2026-01-01 至 2026-12-31" in page.text
    env = {**os.environ, "DATABASE_URL": server.database_url}
    exported, totals = tmp_path / "s.csv", tmp_path / "t.csv"
    assert (
        medrelief(
            env, "export", "settlements", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(exported)
        ).returncode
        == 0
    )
    assert medrelief(env, "statement", str(exported), "--out", str(totals)).returncode == 0
    cli = pd.read_csv(totals, dtype=str).fillna("")
    api = pd.DataFrame(answer.json()["rows"]).fillna("").astype(str)  # a fund's row: the others' columns empty
    pd.testing.assert_frame_equal(api[cli.columns], cli, check_dtype=False)
    grand = api[api["dimension"] == "all"].iloc[0]
    assert (grand["settlements"], grand["reversals"]) == ("2", "1")


def test_second_payout_is_posted_once_and_the_books_still_add_up(server: Server) -> None:
    """Two 低保 persons, each: 50,000.00 with 1,000.00 全自费 for C50.1 at a level-3 hospital on
    2024-05-01 → 低补保 pays 1,001.17 and 20.43 of the in-policy amount is left (README example).
    With 1,000 insured: premium 123,460.00, 92% = 113,583.20, first payouts 2,002.34 → due
    111,580.86; each person can take only their 20.43 → allocated 40.86, undistributed 111,540.00."""
    with server.client("admin") as admin, server.client() as hospital:
        persons = [register(admin, "dibao", "2024-01-01") for _ in range(2)]
        for person in persons:
            settled = hospital.post("/v1/settlements", json=claim(person, settle_date="2024-05-01")).json()
            assert settled["supp_pay"] == "1001.17"
            assert settled["psn_part_amt"] == "1020.43"
        forbidden = hospital.post("/v1/second-payout/2024", json={"insured": 1000})
        posted = admin.post("/v1/second-payout/2024", json={"insured": 1000})
        again = admin.post("/v1/second-payout/2024", json={"insured": 1000})
    assert forbidden.status_code == 403
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["premium"] == "123460.00"
    assert body["first_payouts"] == "2002.34"
    assert body["due"] == "111580.86"
    assert body["allocated"] == "40.86"
    assert body["undistributed"] == "111540.00"
    assert body["persons_paid"] == 2
    assert Decimal(body["loss_ratio"]) == Decimal("0.0162")
    assert again.status_code == 409
    env = {**os.environ, "DATABASE_URL": server.database_url}
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
