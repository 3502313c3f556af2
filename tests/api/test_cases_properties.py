"""Property: for random books and random approval / revocation sequences, what each revocation
claws back is, per fund and to the fen, what the revoked identity had added — the effective
payments before minus after — and after every revocation the books equal the engine settling the
same claims without the identity (the oracle); recoveries never exceed what is due."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.engine import settle
from tests.api.helpers import claim, register
from tests.api.servers import Server
from tests.helpers import claims_frame
from tiers.loader import load_policy

OUTPUTS = ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay")
DEMO = load_policy("demo")
GRANTABLE = ("dibao", "tekun", "illness_poverty", "dibao_edge")

bills = st.lists(
    st.tuples(
        st.integers(1_000, 120_000),  # the bill, yuan
        st.integers(0, 10),  # 全自费, % of the bill
        st.sampled_from(["21", "14"]),
        st.integers(1, 3),
        st.sampled_from(["C34.9", "J18.9"]),
    ),
    min_size=1,
    max_size=4,
)


def _claims(person: str, drawn: list[tuple[int, int, str, int, str]]) -> list[dict[str, Any]]:
    return [
        claim(
            person,
            settle_date=f"2024-{month:02d}-15",
            medfee_sumamt=f"{bill}.00",
            fulamt_ownpay_amt=f"{bill * share // 100}.00",
            med_type=med_type,
            hospital_level=level,
            diagnosis=diagnosis,
        )
        for month, (bill, share, med_type, level, diagnosis) in enumerate(drawn, 2)
    ]


def _engine(claims: list[dict[str, Any]], category: str) -> dict[str, int]:
    rows = [{**c, "category": category, "accident": int(c["accident"])} for c in claims]
    frame = settle(claims_frame(rows), DEMO).frame()
    return {o: int(frame[o].sum()) for o in OUTPUTS}


def _fen(text: str) -> int:
    return int(Decimal(text) * 100)


def _effective(client: httpx.Client, ids: list[str]) -> dict[str, int]:
    paid = dict.fromkeys(OUTPUTS, 0)
    for setl_id in ids:
        body = client.get(f"/v1/settlements/{setl_id}").json()
        for o in OUTPUTS:
            paid[o] += _fen(body[o]) + sum(_fen(a["delta"]) for a in body["adjustments"] if a["output"] == o)
    return paid


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=bills, categories=st.lists(st.sampled_from(GRANTABLE), min_size=1, max_size=3), data=st.data())
def test_clawback_is_what_the_revoked_identity_added(
    server: Server, drawn: list[tuple[int, int, str, int, str]], categories: list[str], data: st.DataObject
) -> None:
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, category=None)
        claims = _claims(person, drawn)
        ids = [hospital.post("/v1/settlements", json=c).json()["setl_id"] for c in claims]
        general = _engine(claims, "general")
        case = admin.post("/v1/cases", json={"person_id": person, "year": 2024, "state": "applied"}).json()["case_id"]
        due = dict.fromkeys(OUTPUTS, 0)
        for n, category in enumerate(categories):
            if n:
                assert admin.post(f"/v1/cases/{case}/reopen", json={}).json()["state"] == "applied"
            approval = {"category": category, "effective_from": "2024-01-01", "fast_track": True}
            assert admin.post(f"/v1/cases/{case}/approval", json=approval).status_code == 200
            granted = _effective(hospital, ids)
            assert granted == _engine(claims, category)
            body = admin.post(f"/v1/cases/{case}/revocation", json={}).json()
            assert _effective(hospital, ids) == general
            for o in OUTPUTS:  # what the identity added to a fund is owed back; what it took is the fund's to pay
                due[o] += max(granted[o] - general[o], 0)
            assert {c["output"]: _fen(c["due"]) for c in body["clawback"]} == {o: v for o, v in due.items() if v}
        fund = data.draw(st.sampled_from([o for o, v in due.items() if v] or ["maf_pay"]))
        amount = data.draw(st.integers(1, max(due[fund], 1)))
        recorded = admin.post(
            f"/v1/cases/{case}/recoveries", json={"output": fund, "amount": str(Decimal(amount) / 100)}
        )
        if due[fund]:
            outstanding = {c["output"]: _fen(c["outstanding"]) for c in recorded.json()["clawback"]}
            assert outstanding[fund] == due[fund] - amount
        else:
            assert (recorded.status_code, recorded.json()["code"]) == (422, "bad_recovery")
