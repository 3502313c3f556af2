"""Age bands in the service (Beijing's 学生儿童): the birth date comes from the registered person's ID
number — a child's 10,000.00 住院 at a 二级 hospital pays the 400 deductible (basic 7,488.00), an
adult's the 800 one (7,176.00), and a person the platform registers on first sight (no ID number) the
adult terms; a retroactive grant re-settles the child's year on the child's terms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import claim, new_id
from tests.api.servers import Server, prepare

CHILD, ADULT = "110101201005010011", "110101199001011234"


def _person(admin: Any, id_number: str) -> str:
    person = new_id("BJ")
    body = {"person_id": person, "name": "测试", "id_number": id_number, "identities": []}
    assert admin.post("/v1/persons", json=body).status_code == 201
    return person


def test_the_birth_date_comes_from_the_id_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDRELIEF_POLICY", "beijing")
    url = f"sqlite:///{tmp_path / 'bj.db'}"
    running = Server(url, prepare(url)).start()
    bill = {"settle_date": "2025-03-10", "hospital_level": 2, "diagnosis": "J18.9", "medfee_sumamt": "10000.00",
            "fulamt_ownpay_amt": "0.00"}  # fmt: skip
    try:
        with running.client("admin") as admin, running.client() as hospital:
            child, adult = _person(admin, CHILD), _person(admin, ADULT)
            settled = {who: hospital.post("/v1/settlements", json=claim(who, **bill)).json() for who in (child, adult)}
            stranger = new_id("BJ")  # unknown to the registry: registered on first sight, without an ID number
            assert admin.post("/v1/persons", json={"person_id": stranger, "identities": []}).status_code == 201
            unknown = hospital.post("/v1/settlements", json=claim(stranger, **bill)).json()
            grant = {"category": "dibao", "valid_from": "2025-01-01"}
            assert admin.post(f"/v1/persons/{child}/identities", json=grant).status_code in (200, 201)
            again = hospital.get(f"/v1/settlements/{settled[child]['setl_id']}").json()
    finally:
        running.stop()
    assert settled[child]["hifp_pay"] == "7488.00", settled[child]
    assert settled[adult]["hifp_pay"] == "7176.00"
    assert unknown["hifp_pay"] == "7176.00"
    basic = next(line for line in settled[child]["lines"] if line["output"] == "hifp_pay")
    assert basic["rule"] == "inpatient_children"
    assert all(a["output"] != "hifp_pay" for a in again["adjustments"])  # the basic fund's terms kept
