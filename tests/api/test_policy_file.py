"""A region's own policy file (``MEDRELIEF_POLICY=/path/region.yaml``, not a bundled name) works on
every route, and the statements, 3201/3202, reconciliations and exports use it — never a reload of
the stored ``policy_id`` as a bundled name."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import BACKENDS, database_url
from tests.api.helpers import claim, register
from tests.api.servers import ROOT, Postgres, Server, medrelief, prepare

EXAMPLES = ROOT / "examples"


def _region(folder: Path) -> Path:
    """The demo policy under another id and insurance type, in a file of its own."""
    text = (ROOT / "tiers" / "policies" / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("id: demo\n", "id: myregion\n", 1).replace('insutype: "390"', 'insutype: "391"', 1)
    path = folder / "myregion.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=BACKENDS)
def region_server(request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path: Path) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path)
    running = Server(url, prepare(url), env={"MEDRELIEF_POLICY": str(_region(tmp_path))}).start()
    yield running
    running.stop()


def _nhsa(name: str, **data: object) -> dict[str, object]:
    body: dict[str, object] = json.loads((EXAMPLES / "nhsa" / f"{name}.json").read_text(encoding="utf-8"))
    body["fixmedins_code"], body["msgid"] = "H-ONE", f"{name}-{os.urandom(6).hex()}"
    body["input"]["data"].update(data)  # type: ignore[index]
    return body


def test_every_route_works_under_a_policy_file(region_server: Server, tmp_path: Path) -> None:
    server = region_server
    period = {"from": "2025-01-01", "to": "2025-12-31"}
    with server.client("admin") as admin, server.client() as hospital, server.client("insurer") as insurer:
        person = register(admin, "dibao", "2025-01-01")
        body = claim(person, settle_date="2025-03-01")
        assert hospital.post("/v1/settlements/pre", json=body).status_code == 200
        settled = hospital.post("/v1/settlements", json=body)
        assert settled.status_code == 201, settled.text
        assert settled.json()["policy_id"] == "myregion"
        setl_id = settled.json()["setl_id"]
        answers = [
            hospital.get(f"/v1/settlements/{setl_id}"),
            hospital.get(f"/v1/settlements/{setl_id}/slip"),
            hospital.get(f"/v1/persons/{person}/accumulators", params={"year": 2025}),
            hospital.get(f"/fhir/ExplanationOfBenefit/{setl_id}"),
            insurer.get("/v1/statements", params=period),
            insurer.get("/v1/statements", params={**period, "format": "html"}),
            insurer.post("/v1/reconciliations", json={**period, "rows": [{"setl_id": setl_id, "hifp_pay": "1.00"}]}),
        ]
        assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.is_error]
        statement = {(r["dimension"], r["value"]) for r in answers[4].json()["rows"]}
        assert ("insutype", "391") in statement  # the service's policy, not a bundled one
        nhsa_person = {"psn_no": person, "mdtrt_id": "M-policy-file", "insutype": "391"}
        for name, data in [
            ("2304-settle", nhsa_person),
            ("5206-accumulators", {"psn_no": person}),
            ("3201-totals", {"stmt_begndate": "2025-03-01", "stmt_enddate": "2025-03-31", "insutype": "391"}),
            ("3202-detail", {"stmt_begndate": "2025-03-01", "stmt_enddate": "2025-03-31", "insutype": "391"}),
        ]:
            answer = hospital.post("/nhsa", json=_nhsa(name, **data)).json()
            assert answer["infcode"] == 0, (name, answer["err_msg"])
        fhir = json.loads((EXAMPLES / "fhir" / "claim.json").read_text(encoding="utf-8"))
        fhir["patient"] = {"reference": f"Patient/{person}"}
        submitted = hospital.post("/fhir/Claim", json=fhir, headers={"content-type": "application/fhir+json"})
        assert submitted.status_code == 201, submitted.text
        reversed_ = hospital.post(f"/v1/settlements/{setl_id}/reversal")
        assert reversed_.status_code == 201, reversed_.text
        assert admin.post("/v1/second-payout/2025", json={"insured": 10}).status_code == 201
    env = {**os.environ, "DATABASE_URL": server.database_url, "MEDRELIEF_POLICY": server.env["MEDRELIEF_POLICY"]}
    exported = tmp_path / "books.csv"
    done = medrelief(env, "export", "settlements", "--from", "2025-01-01", "--to", "2025-12-31", "--out", str(exported))
    assert done.returncode == 0, done.stderr
    assert "391" in exported.read_text(encoding="utf-8")
    checked = medrelief(env, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
