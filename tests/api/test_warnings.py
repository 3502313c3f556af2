"""``GET /v1/warnings`` on the service's books: the warnings ``medrelief monitor`` gives for the same
claims, ID numbers shown only to keys that may see them, a reversal taking a warning back."""

from __future__ import annotations

import os
from io import StringIO

import httpx
import pandas as pd

from api import cli
from api.auth import KINDS
from api.routes.warnings import EXPORT_COLUMNS
from settlement.engine import settle
from settlement.warnings import claim_rows, warnings
from tests.api.helpers import claim, new_id, register
from tests.api.servers import Server, medrelief
from tiers.loader import load_policy

YEAR = "2023"  # a year no other test of the module settles in


def _bills(person: str) -> list[dict[str, str]]:
    """8,000 + 7,000 (12,000 less 5,000 全自费) + 6,000 of 先行自付: the person's part crosses 20,000
    on the third bill (demo: 50% of 40,000 for everybody not in the low-income group)."""
    parts = [("8000.00", "0.00", "8000.00", "02-01"), ("12000.00", "5000.00", "7000.00", "05-10"),
             ("6000.00", "0.00", "6000.00", "08-20")]  # fmt: skip
    return [
        claim(
            person,
            claim_id=f"{person}-{i}",
            med_type="11",
            hospital_level=2,
            settle_date=f"{YEAR}-{day}",
            diagnosis="",
            medfee_sumamt=fee,
            fulamt_ownpay_amt=full,
            preselfpay_amt=pre,
        )
        for i, (fee, full, pre, day) in enumerate(parts, start=1)
    ]


def test_warnings_from_the_books(server: Server) -> None:
    env = {**os.environ, "DATABASE_URL": server.database_url}
    office = medrelief(env, "keys", "create", "--institution", new_id("MZ"), "--kind", "civil_affairs").stdout.strip()
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin, None)
        settled = [hospital.post("/v1/settlements", json=bill) for bill in _bills(person)]
        assert [r.status_code for r in settled] == [201, 201, 201]
        seen = insurer.get("/v1/warnings", params={"year": YEAR}).json()["warnings"]
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": office}) as civil_affairs:
            full = civil_affairs.get("/v1/warnings", params={"year": YEAR, "format": "csv"})
        refused = hospital.get("/v1/warnings", params={"year": YEAR})
        reversed_ = hospital.post(f"/v1/settlements/{settled[2].json()['setl_id']}/reversal")
        after = insurer.get("/v1/warnings", params={"year": YEAR, "all": "true"}).json()["warnings"]
    (row,) = [w for w in seen if w["person_id"] == person]
    expected = {"group": "everybody", "category": "general", "burden": "21000.00", "threshold": "20000.00",
                "ratio": 1.05, "warned": 1, "crossed_on": f"{YEAR}-08-20", "crossing_claim": f"{person}-3",
                "claims": 3, "name": "测试", "id_number": "110101********1234"}  # fmt: skip
    assert {k: row[k] for k in expected} == expected
    exported = pd.read_csv(StringIO(full.text), dtype=str, keep_default_na=False)
    assert exported.columns.tolist() == list(EXPORT_COLUMNS)  # the stable layout
    assert exported.set_index("person_id").loc[person, "id_number"] == "110101199001011234"
    assert refused.status_code == 403
    assert reversed_.status_code == 201
    (now,) = [w for w in after if w["person_id"] == person]
    assert (now["warned"], now["burden"], now["claims"]) == (0, "15000.00", 2)


def test_the_service_warns_as_medrelief_monitor_does(server: Server) -> None:
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin, None)
        bills = _bills(person)
        for bill in bills:
            assert hospital.post("/v1/settlements", json=bill).status_code == 201
        served = [w for w in insurer.get("/v1/warnings", params={"year": YEAR}).json()["warnings"]
                  if w["person_id"] == person]  # fmt: skip
    frame = pd.DataFrame(bills).assign(category="general", accident="0").astype(str)
    batch = warnings(claim_rows(settle(frame, load_policy("demo"))), load_policy("demo"))
    (row,) = batch.to_dict("records")
    (one,) = served
    assert (one["crossing_claim"], one["crossed_on"], one["ratio"]) == (
        row["crossing_claim"],
        row["crossed_on"],
        row["ratio"],
    )
    assert one["burden"] == f"{row['burden'] / 100:.2f}"


def test_the_command_line_knows_every_kind_of_key() -> None:
    assert cli.KINDS == KINDS
