"""Small builders for API requests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def register(admin: httpx.Client, category: str | None = "dibao", valid_from: str = "2024-01-01") -> str:
    person = new_id("P")
    identities = [{"category": category, "valid_from": valid_from, "source": "民政"}] if category else []
    body = {"person_id": person, "name": "测试", "id_number": "110101199001011234", "identities": identities}
    response = admin.post("/v1/persons", json=body)
    assert response.status_code == 201, response.text
    return person


def claim(person: str, **fields: Any) -> dict[str, Any]:
    return {
        "claim_id": new_id("C"),
        "person_id": person,
        "med_type": "21",
        "hospital_level": 3,
        "settle_date": "2024-05-01",
        "diagnosis": "C50.1",
        "accident": False,
        "medfee_sumamt": "50000.00",
        "fulamt_ownpay_amt": "1000.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        **fields,
    }


def buckets(client: httpx.Client, person: str, year: int = 2024) -> dict[tuple[str, str], str]:
    response = client.get(f"/v1/persons/{person}/accumulators", params={"year": year})
    assert response.status_code == 200, response.text
    return {(b["layer"], b["bucket"]): b["paid_cum"] for b in response.json()["buckets"]}
