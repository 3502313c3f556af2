"""Accumulation periods in the service: a region whose 大病 runs over a year from 1 October and whose
低补保 over an insurance year from 1 July (``tests/cases/insurance-year.yaml``) — claims posted out of
date order over two calendar years, identities granted and revoked after the fact, claims reversed:
each claim's effective payments equal ``medrelief settle --identities`` on the final history, the
accumulators are stored per layer period, and ``medrelief db check`` is green."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.soak.servers import Server, prepare
from tests.api.conftest import BACKENDS, database_url
from tests.api.helpers import claim, register
from tests.api.servers import ROOT, Postgres
from tests.api.test_final_history import same_as_the_batch

POLICY = str(ROOT / "tests" / "cases" / "insurance-year.yaml")


@pytest.fixture(scope="module", params=BACKENDS)
def year_server(
    request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path_factory.mktemp(request.param))
    running = Server(url, prepare(url), env={"MEDRELIEF_POLICY": POLICY}).start()
    yield running
    running.stop()


def test_service_equals_the_batch_across_periods(year_server: Server, tmp_path: Path) -> None:
    same_as_the_batch(year_server, tmp_path, seed=20261206, years=(2024, 2025))


def _chronic(person: str, day: str, amount: str) -> dict[str, object]:
    return claim(person, med_type="14", hospital_level=1, settle_date=day, diagnosis="N18.5", medfee_sumamt=amount,
                 fulamt_ownpay_amt="0.00")  # fmt: skip


def test_a_claim_settles_on_its_layers_periods_by_hand(year_server: Server) -> None:
    """As tests/settlement/test_periods.py by hand, one claim at a time through the API: 大病 pays
    12,000 / 15,000 (a new period from 1 October: a new deductible) / 3,000 (still that period in
    January); the accumulators are stored under each layer's period."""
    with year_server.client("admin") as admin, year_server.client() as hospital:
        person = register(admin, None)  # no relief identity: 大病 without its tilt
        paid = []
        for day, amount in (("2024-09-20", "40000.00"), ("2024-10-10", "40000.00"), ("2025-01-05", "10000.00")):
            answer = hospital.post("/v1/settlements", json=_chronic(person, day, amount))
            assert answer.status_code == 201, answer.text
            paid.append((answer.json()["hifp_pay"], answer.json()["hifmi_pay"]))
        assert paid == [("5000.00", "12000.00"), ("0.00", "15000.00"), ("5000.00", "3000.00")]
        stored: dict[tuple[int, str, str], str] = {}
        for year in (2023, 2024, 2025):
            rows = admin.get(f"/v1/persons/{person}/accumulators", params={"year": year}).json()
            stored |= {(year, r["layer"], r["bucket"]): r["paid_cum"] for r in rows["buckets"] if r["claims"]}
        assert stored == {
            (2023, "critical_illness", "critical_illness"): "12000.00",
            (2024, "critical_illness", "critical_illness"): "18000.00",
            (2024, "basic", "chronic"): "5000.00",
            (2025, "basic", "chronic"): "5000.00",
        }
