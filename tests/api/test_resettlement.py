"""Identities granted or revoked retroactively re-settle the person-year with adjustment entries."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import httpx

from settlement.engine import settle
from tests.api.helpers import buckets, claim, register
from tests.api.servers import Server, medrelief
from tests.helpers import claims_frame
from tiers.loader import load_policy

OUTPUTS = ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay")
DEMO = load_policy("demo")


def _claims(person: str) -> list[dict[str, Any]]:
    return [
        claim(person, settle_date="2024-03-01", medfee_sumamt="80000.00", fulamt_ownpay_amt="0.00"),
        claim(person, settle_date="2024-06-01", medfee_sumamt="20000.00", diagnosis="J18.9", fulamt_ownpay_amt="0.00"),
        claim(person, settle_date="2024-09-01", medfee_sumamt="45000.00", med_type="14", fulamt_ownpay_amt="0.00"),
    ]


def _engine(claims: list[dict[str, Any]], category: str) -> dict[str, dict[str, int]]:
    rows = [{**c, "category": category, "accident": int(c["accident"])} for c in claims]
    result = settle(claims_frame(rows), DEMO).frame()
    return {r["claim_id"]: {o: int(r[o]) for o in OUTPUTS} for r in result.to_dict("records")}


def _effective(client: httpx.Client, setl_id: str) -> dict[str, int]:
    body = client.get(f"/v1/settlements/{setl_id}").json()
    paid = {o: int(Decimal(body[o]) * 100) for o in OUTPUTS}
    for adjustment in body["adjustments"]:
        paid[adjustment["output"]] += int(Decimal(adjustment["delta"]) * 100)
    return paid


def test_back_dated_grant_then_revocation(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, category=None)
        claims = _claims(person)
        ids = {c["claim_id"]: hospital.post("/v1/settlements", json=c).json()["setl_id"] for c in claims}
        general, dibao = _engine(claims, "general"), _engine(claims, "dibao")
        assert {c: _effective(hospital, s) for c, s in ids.items()} == general

        granted = admin.post(f"/v1/persons/{person}/identities", json={"category": "dibao", "valid_from": "2024-01-01"})
        assert granted.status_code == 201, granted.text
        (run,) = granted.json()
        assert run["claims"] == 3
        assert run["adjustments"], run
        assert {c: _effective(hospital, s) for c, s in ids.items()} == dibao
        paid = buckets(hospital, person)
        assert Decimal(paid[("assistance", "assistance")]) * 100 == sum(v["maf_pay"] for v in dibao.values())

        identity = admin.get(f"/v1/persons/{person}").json()["identities"][0]["id"]
        revoked = admin.post(f"/v1/persons/{person}/identities/{identity}/revocation")
        assert revoked.status_code == 200, revoked.text
        assert {c: _effective(hospital, s) for c, s in ids.items()} == general
        assert buckets(hospital, person)[("assistance", "assistance")] == "0.00"
        again = admin.post(f"/v1/persons/{person}/identities/{identity}/revocation")
        assert (again.status_code, again.json()["code"]) == (409, "already_revoked")
        # history is never rewritten: the original amounts are still the first response's
        first = hospital.get(f"/v1/settlements/{ids[claims[0]['claim_id']]}").json()
        assert {o: int(Decimal(first[o]) * 100) for o in OUTPUTS} == general[claims[0]["claim_id"]]
        assert len(first["adjustments"]) >= 2


def test_reversing_an_earlier_claim_adjusts_the_later_ones(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, category="dibao")
        claims = _claims(person)
        ids = [hospital.post("/v1/settlements", json=c).json()["setl_id"] for c in claims]
        assert hospital.post(f"/v1/settlements/{ids[0]}/reversal").status_code == 201
        remaining = _engine(claims[1:], "dibao")
        assert {c["claim_id"]: _effective(hospital, s) for c, s in zip(claims[1:], ids[1:], strict=True)} == remaining
        paid = buckets(hospital, person)
        assert Decimal(paid[("critical_illness", "critical_illness")]) * 100 == sum(
            v["hifmi_pay"] for v in remaining.values()
        )


def test_a_reversal_takes_back_the_adjustments_too(server: Server) -> None:
    """The desk issue's money bug: settle for a person without identity, grant 低保 from the start
    of the year (the claim gets adjustments), reverse it: the reversal takes back what the claim
    effectively received, so it nets zero in every fund and the books balance."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, category=None)
        setl_id = hospital.post("/v1/settlements", json=claim(person, medfee_sumamt="80000.00")).json()["setl_id"]
        granted = admin.post(f"/v1/persons/{person}/identities", json={"category": "dibao", "valid_from": "2024-01-01"})
        assert granted.status_code == 201, granted.text
        assert _effective(hospital, setl_id)["maf_pay"] > 0  # the grant's adjustment
        reversal = hospital.post(f"/v1/settlements/{setl_id}/reversal")
        assert reversal.status_code == 201, reversal.text
        undone = {o: int(Decimal(reversal.json()[o]) * 100) for o in OUTPUTS}
        assert {o: -v for o, v in undone.items()} == _effective(hospital, setl_id)
        assert set(buckets(hospital, person).values()) == {"0.00"}
    checked = medrelief({**os.environ, "DATABASE_URL": server.database_url}, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
