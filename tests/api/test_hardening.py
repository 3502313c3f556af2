"""The defects an attack on the service found, each fixed with a test named after what it protects
(on both databases where the defect was database-specific)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import BACKENDS, database_url
from tests.api.helpers import buckets, claim, register
from tests.api.servers import Postgres, Server, medrelief, prepare


@pytest.fixture(scope="module", params=BACKENDS)
def two_workers(
    request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = database_url(request.param, postgres, tmp_path_factory.mktemp(f"two-{request.param}"))
    running = Server(url, prepare(url), workers=2).start()
    yield running
    running.stop()


def _books_check(server: Server) -> None:
    checked = medrelief({**os.environ, "DATABASE_URL": server.database_url}, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_late_claims_after_the_second_payout_settle_and_keep_the_payouts(server: Server) -> None:
    """The payout's accumulator rows are a program's, not the engine's: a late claim of the year,
    its pre-settlement, a reversal and a grant all work, and the payouts stay in the books."""
    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2023-01-01")
        first = hospital.post("/v1/settlements", json=claim(person, settle_date="2023-05-01")).json()["setl_id"]
        assert admin.post("/v1/second-payout/2023", json={"insured": 1000}).status_code == 201
        assert admin.post("/v1/post-hoc/2023").status_code in (201, 422)  # demo defines none: 422
        late = claim(person, settle_date="2023-11-01")
        assert hospital.post("/v1/settlements/pre", json=late).status_code == 200
        assert hospital.post("/v1/settlements", json=late).status_code == 201
        assert hospital.post(f"/v1/settlements/{first}/reversal").status_code == 201
        grant = {"category": "tekun", "valid_from": "2023-01-01"}
        assert admin.post(f"/v1/persons/{person}/identities", json=grant).status_code == 201
        used = buckets(hospital, person, 2023)
        assert float(used[("supplementary_second_payout", "second_payout")]) > 0
    _books_check(server)


def test_one_claim_is_settled_once_when_two_workstations_race(two_workers: Server) -> None:
    """The same claim_id posted for two persons at the same moment (first to the wrong person,
    retried for the right one from another workstation): one settlement, the other 409 with its id."""
    with two_workers.client("admin") as admin:
        persons = [register(admin, "dibao", "2024-01-01") for _ in range(2)]
    for _ in range(5):
        claim_id = uuid.uuid4().hex
        start = threading.Barrier(2)

        def post(person: str, claim_id: str = claim_id, start: threading.Barrier = start) -> httpx.Response:
            with two_workers.client() as hospital:
                body = claim(person, claim_id=claim_id)
                start.wait()
                return hospital.post("/v1/settlements", json=body)

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, persons))
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409).json()
        settled = next(a for a in answers if a.status_code == 201).json()
        assert (refused["code"], refused["setl_id"]) == ("already_settled", settled["setl_id"])
    _books_check(two_workers)


def test_the_second_payout_run_eight_times_at_once_posts_once(two_workers: Server) -> None:
    with two_workers.client("admin") as admin:
        person = register(admin, "dibao", "2023-01-01")
    with two_workers.client() as hospital:
        assert hospital.post("/v1/settlements", json=claim(person, settle_date="2023-05-01")).status_code == 201

    def run(_: int) -> int:
        with two_workers.client("admin") as admin:
            return admin.post("/v1/second-payout/2023", json={"insured": 50}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(run, range(8)))
    assert codes == [201] + [409] * 7
    _books_check(two_workers)


def test_a_hospital_message_never_changes_the_registry(server: Server) -> None:
    """An ``idetinfo`` with a 特困 code on a 10-yuan visit grants nothing: the registry is the
    civil-affairs side's; another hospital's settlement is not re-settled."""
    from tests.api.test_nhsa import request

    with server.client("admin") as admin, server.client("hospital2") as other:
        person = register(admin, None)
        before = other.post("/v1/settlements", json=claim(person, settle_date="2025-02-01")).json()
    with server.client() as hospital:
        tekun = [{"psn_idet_type": "2201", "begntime": "2025-01-01 00:00:00"}]
        amounts = {"medfee_sumamt": 10, "fulamt_ownpay_amt": 0, "inscp_scp_amt": 10}
        body = request("2207-settle", psn_no=person, mdtrt_id=uuid.uuid4().hex[:20], idetinfo=tekun, **amounts)
        answer = hospital.post("/nhsa", json=body).json()
    assert answer["infcode"] == 0, answer["err_msg"]
    assert "not in the registry" in answer["warn_msg"]
    with server.client("admin") as admin, server.client("hospital2") as other:
        assert admin.get(f"/v1/persons/{person}").json()["identities"] == []
        assert other.get(f"/v1/settlements/{before['setl_id']}").json()["adjustments"] == []


def test_bad_input_gets_its_own_envelope_not_a_500(server: Server) -> None:
    from tests.api.test_nhsa import request

    with server.client("admin") as admin, server.client() as hospital:
        person = register(admin, "dibao", "2020-01-01")
        early = hospital.post("/v1/settlements", json=claim(person, settle_date="2022-06-01"))
        assert (early.status_code, early.json()["code"]) == (422, "before_policy")
        envelope = hospital.post("/nhsa", json=request("2304-settle", psn_no=person, setl_time="2022-06-01 10:00:00"))
        assert envelope.json()["infcode"] == -1
        assert "before_policy" in envelope.json()["err_msg"]
        nul = admin.post("/v1/persons", json={"person_id": uuid.uuid4().hex, "name": "张\x00三"})
        assert (nul.status_code, nul.json()["param"]) == (422, "name")
        source = {"category": "dibao", "valid_from": "2024-01-01", "source": "民\x00政"}
        refused = admin.post(f"/v1/persons/{person}/identities", json=source)
        assert (refused.status_code, refused.json()["param"]) == (422, "source")
        huge = admin.post(f"/v1/persons/{person}/identities/{2**40}/revocation")
        assert huge.status_code == 422
        zero_month = hospital.post("/nhsa", json=request("5206-accumulators", psn_no=person, cum_ym="000001"))
        assert zero_month.json()["infcode"] == -1
        assert "input.data.cum_ym" in zero_month.json()["err_msg"]
        backwards = request("3201-totals", stmt_begndate="2025-09-30", stmt_enddate="2025-09-01")
        assert "input.data.stmt_enddate" in hospital.post("/nhsa", json=backwards).json()["err_msg"]


def test_a_long_person_id_can_be_settled_reversed_and_regranted(server: Server) -> None:
    """A 64-character person id: its person-year's audit entry fits (it had overflowed its column)."""
    with server.client("admin") as admin, server.client() as hospital:
        person = "P" * 64
        assert admin.post("/v1/persons", json={"person_id": person}).status_code == 201
        setl_id = hospital.post("/v1/settlements", json=claim(person)).json()["setl_id"]
        assert hospital.post(f"/v1/settlements/{setl_id}/reversal").status_code == 201
        grant = {"category": "dibao", "valid_from": "2024-01-01"}
        assert admin.post(f"/v1/persons/{person}/identities", json=grant).status_code == 201


def test_the_3202_detail_file_neutralises_formulas(server: Server) -> None:
    from tests.api.test_nhsa import request

    with server.client("admin") as admin, server.client() as hospital:
        person = '=HYPERLINK("http://x")'
        assert admin.post("/v1/persons", json={"person_id": person}).status_code == 201
        data = {"psn_no": person, "mdtrt_id": "@SUM(A1)", "setl_time": "2025-08-08 10:00:00"}
        assert hospital.post("/nhsa", json=request("2304-settle", **data)).json()["infcode"] == 0
        file = hospital.get("/nhsa/files/2025080820250808A").text
    assert "'=HYPERLINK" in file
    assert "'@SUM(A1)" in file
    assert "\n=" not in file
    assert ",=" not in file


def test_the_health_check_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """SQLite: another process holds the write lock; /healthz still answers at once."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    server = Server(url, prepare(url)).start()
    try:
        holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        answer = httpx.get(server.base_url + "/healthz", timeout=5)
        holder.execute("ROLLBACK")
        assert answer.status_code == 200
    finally:
        server.stop()


def test_no_id_number_reaches_the_log() -> None:
    """A driver's error that quotes the row it refused is logged with the 身份证号 masked."""
    import logging

    from api.auth import RedactIdNumbers

    record = logging.LogRecord("medrelief.api", logging.ERROR, __file__, 1, "refused %s", ("110101199001011234",), None)
    try:
        raise ValueError("duplicate key (id_number)=(11010119900101123X)")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactIdNumbers().filter(record)
    text = logging.Formatter().format(record)
    assert "110101********1234" in text
    assert "110101********123X" in text
    assert "199001011234" not in text
    assert "19900101123X" not in text


def test_a_held_person_lock_gives_a_clear_503_not_a_long_stall(postgres: Postgres | str, tmp_path: Path) -> None:
    """PostgreSQL: another transaction holds a person's row; that person's settlement is refused
    with 503 ``database_busy`` after the lock timeout (nothing changed), and the service goes on."""
    import time

    import psycopg

    from api.db import LOCK_TIMEOUT_MS

    url = database_url("postgresql", postgres, tmp_path)
    server = Server(url, prepare(url)).start()
    try:
        with server.client("admin") as admin:
            held, free = register(admin), register(admin)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as holder, server.client() as hospital:
            holder.execute("SELECT person_id FROM person WHERE person_id = %s FOR UPDATE", (held,))
            started = time.monotonic()
            busy = hospital.post("/v1/settlements", json=claim(held))
            waited = time.monotonic() - started
            assert (busy.status_code, busy.json()["code"]) == (503, "database_busy")
            assert waited < LOCK_TIMEOUT_MS / 1000 + 3
            assert hospital.post("/v1/settlements", json=claim(free)).status_code == 201
            assert httpx.get(server.base_url + "/healthz", timeout=5).status_code == 200
        assert buckets(server.client(), held)[("basic", "inpatient")] == "0.00"
    finally:
        server.stop()
