"""What a batch of settlements reads first, on both backends: key states, person-years, locks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.books.reading import KeyState, PersonYear, Wanted, read
from api.db import migrate, open_database, pooled_transaction
from api.models import Accumulator, IdempotencyRecord, Identity, Institution, Person, Settlement
from tests.api.conftest import BACKENDS, database_url, migrated_engine
from tests.api.servers import Postgres

DAY = date(2024, 6, 1)


def _settlement(setl_id: str, person: str, claim: str, day: date, seq: int, status: str = "settled") -> Settlement:
    return Settlement(
        setl_id=setl_id, seq=seq, status=status, claim_id=claim, institution_id="H1", person_id=person,
        year=day.year, settle_date=day, med_type="21", hospital_level=1, category="dibao", policy_id="demo",
    )  # fmt: skip


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path: Path) -> Iterator[Engine]:
    engine = migrated_engine(request.param, postgres, tmp_path)
    with Session(engine) as session:
        session.add_all(
            [Institution(id="H1", name="H1", kind="hospital"), Person(person_id="P1"), Person(person_id="P2")]
        )
        session.flush()
        session.add_all(
            [
                Identity(person_id="P1", category="dibao", valid_from=date(2024, 1, 1), valid_to=date(2024, 6, 1)),
                Identity(person_id="P1", category="tekun", valid_from=date(2024, 6, 2)),  # not yet on DAY
                Identity(person_id="P1", category="orphan", valid_from=date(2024, 1, 1), revoked_at=datetime.now(UTC)),
                Identity(person_id="P2", category="low_income", valid_from=date(2023, 1, 1)),
                Accumulator(person_id="P1", year=2024, layer="basic", bucket="inpatient", base_cum=5, paid_cum=4),
                Accumulator(person_id="P1", year=2023, layer="basic", bucket="inpatient", base_cum=9, paid_cum=9),
                _settlement("S1", "P1", "C1", date(2024, 5, 1), 1),
                _settlement("S2", "P1", "C2", date(2024, 5, 20), 2, status="reversed"),
                _settlement("S3", "P1", "C3", date(2023, 12, 1), 7),
                IdempotencyRecord(institution_id="H1", key="K1", request_hash="h", status_code=201, body=b"\x00{}"),
            ]
        )
        session.commit()
    yield engine
    engine.dispose()


def test_person_years_as_of_each_claims_date(engine: Engine) -> None:
    wanted = [
        Wanted("H1", None, "P1", DAY, "C1"),
        Wanted("H1", None, "P2", DAY, "C9"),
        Wanted("H1", None, "P3", DAY, "C8"),  # not registered
        Wanted("H1", None, "P1", date(2023, 12, 31), "C2"),  # P1 again, another year: read once
    ]
    with pooled_transaction(engine) as db:
        found = read(db, wanted)
    p1 = [("dibao", date(2024, 1, 1), date(2024, 6, 1)), ("tekun", date(2024, 6, 2), None)]  # not the revoked one
    assert [f.year for f in found] == [
        PersonYear(p1, {("basic", "inpatient"): (5, 4, 0)}, 8, "S1"),
        PersonYear([("low_income", date(2023, 1, 1), None)], {}, 1, None),
        None,
        PersonYear(p1, {("basic", "inpatient"): (9, 9, 0)}, 8, None),  # C2 was reversed: not standing
    ]


def test_key_states_stored_replies_and_keys_held_elsewhere(engine: Engine) -> None:
    wanted = [Wanted("H1", "K1"), Wanted("H1", "K2"), Wanted("H2", "K1"), Wanted("H1", None)]
    with pooled_transaction(engine) as db:
        found = read(db, wanted)
    assert [f.key for f in found] == [KeyState(True, ("h", 201, b"\x00{}")), KeyState(), KeyState(), KeyState()]
    if engine.dialect.name != "postgresql":
        return  # SQLite: one writer at a time, no key is ever held by another
    with pooled_transaction(engine) as holder:
        read(holder, [Wanted("H1", "K2")])  # holds K2's advisory lock until it ends
        with pooled_transaction(engine) as db:
            assert [f.key.free for f in read(db, wanted[:2])] == [True, False]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_person_locked_by_one_batch_waits_for_it(backend: str, postgres: Postgres | str, tmp_path: Path) -> None:
    url = database_url(backend, postgres, tmp_path)
    migrate(url)
    engine = open_database(url)
    with Session(engine) as session:
        session.add_all([Person(person_id="P1"), Person(person_id="P2")])
        session.commit()
    order: list[str] = []
    with pooled_transaction(engine) as first:
        read(first, [Wanted("H1", None, "P2", DAY), Wanted("H1", None, "P1", DAY)])

        def second() -> None:
            with pooled_transaction(engine) as db:
                read(db, [Wanted("H1", None, "P1", DAY)])
                order.append("second read")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first commits")
        first.commit()
    thread.join(10)
    engine.dispose()
    assert order == ["first commits", "second read"]
