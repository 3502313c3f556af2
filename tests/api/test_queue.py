"""Settlements in batches (the desk's group commit): a batch settles each claim as one claim at a
time would — persons holding two identities under the more favourable — refuses only the claims it
must, and a batch that fails as a whole is settled again one claim at a time."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from api import desk, native, registry
from api.auth import SCOPES, Caller, create_key
from api.books import checks, visits
from api.db import migrate, open_database, pooled_transaction
from api.errors import Problem
from api.idempotency import Reply, request_hash
from api.queue import SettlementQueue
from api.schemas import ClaimIn
from tests.api.conftest import BACKENDS, database_url
from tests.api.servers import Postgres
from tiers.codes import CATEGORIES
from tiers.loader import load_policy
from tiers.tables import compile_policy

DEMO = compile_policy(load_policy("demo"))
HOSPITAL = Caller("H1", "hospital", frozenset(SCOPES["hospital"]))
PERSONS = [f"P{i}" for i in range(12)]


def _database(url: str) -> Engine:
    """Every person with two identities (就高不重复 decides which one each claim settles under)."""
    migrate(url)
    engine = open_database(url)
    with pooled_transaction(engine) as db:
        create_key(db, "H1", "hospital")
    for i, person in enumerate(PERSONS):
        held = {CATEGORIES[i % len(CATEGORIES)], CATEGORIES[(3 * i + 1) % len(CATEGORIES)]}
        periods: list[registry.Period] = [(c, date(2024, 1, 1), None, "民政") for c in sorted(held)]
        with pooled_transaction(engine) as db:
            registry.register(db, actor="ADMIN", person_id=person, name="", id_number="", periods=periods)
    return engine


@pytest.fixture(params=BACKENDS)
def engines(
    request: pytest.FixtureRequest, postgres: Postgres | str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Engine]]:
    """Two databases with the same persons: one settled in batches, one a claim at a time."""
    pair = tuple(_database(database_url(request.param, postgres, tmp_path_factory.mktemp(n))) for n in "ab")
    yield pair  # type: ignore[misc]
    for engine in pair:
        engine.dispose()


def _claim(person: str, n: int, **fields: Any) -> ClaimIn:
    inpatient = n % 3 != 2
    total = [80_000, 260_000, 900][n % 3] * 100 + 3_701 * n + len(person)  # fen
    body = {
        "claim_id": f"C-{person}-{n}",
        "person_id": person,
        "med_type": "21" if inpatient else "11",
        "hospital_level": 1 + n % 3,
        "settle_date": f"2024-0{1 + n}-15",
        "diagnosis": ["C50.1", "I63.9", "J18.9"][n % 3],
        "medfee_sumamt": f"{Decimal(total) / 100:.2f}",
        "fulamt_ownpay_amt": f"{Decimal(total // 20) / 100:.2f}",
        **fields,
    }
    return ClaimIn.model_validate_json(json.dumps(body))


def _request(claim: ClaimIn, key: str | None = None, caller: Caller = HOSPITAL) -> desk.SettleCommand:
    facts = desk.check_claim(claim, DEMO, on=date(2025, 1, 1))
    digest = request_hash("settle", claim.model_dump_json())
    return desk.SettleCommand(caller, facts, native.render, key if key is not None else claim.claim_id, digest)


def _settled(engine: Engine, requests: Sequence[desk.Command]) -> list[Reply | Exception]:
    with pooled_transaction(engine) as db:
        return desk.settle_commands(db, requests, DEMO)


def _money(result: Reply | Exception) -> dict[str, Any]:
    """A reply's amounts and lines (ids and times differ between databases), or the problem's code."""
    if isinstance(result, Exception):
        return {"problem": result.code if isinstance(result, Problem) else repr(result)}
    body = json.loads(result.body)
    return {k: v for k, v in body.items() if k not in ("setl_id",)} | {"status": result.status}


def test_batches_settle_as_one_claim_at_a_time(engines: tuple[Engine, Engine]) -> None:
    batched, alone = engines
    rounds = [[_request(_claim(p, n)) for p in PERSONS] for n in range(4)]  # each round: every person once
    for requests in rounds:
        together = _settled(batched, requests)
        one_by_one = [_settled(alone, [r])[0] for r in requests]
        assert [_money(r) for r in together] == [_money(r) for r in one_by_one]
        assert all(isinstance(r, Reply) and r.status == 201 for r in together)
    categories = {json.loads(r.body)["category"] for r in together if isinstance(r, Reply)}
    assert len(categories) > 3  # the persons' more favourable identities, of many kinds
    for engine in engines:
        with pooled_transaction(engine) as db:
            assert checks.problems(db, DEMO) == []


def test_an_incomplete_command_is_completed_in_the_batch_and_refused_alone(engines: tuple[Engine, Engine]) -> None:
    """A command the books complete (NHSA's settlement that leaves its admission to its visit)
    reads in the batch's transaction; completed, it settles as the whole command does alone; one
    whose completion refuses it is refused alone."""
    batched, alone = engines
    read = (visits.visit_read(institution_id="H1", mdtrt_id="V-NONE"),)
    seen: list[list[list[tuple[Any, ...]]]] = []

    def whole(rows: list[list[tuple[Any, ...]]]) -> desk.SettleCommand:
        seen.append(rows)
        return _request(_claim("P2", 0))

    def refused(rows: list[list[tuple[Any, ...]]]) -> desk.SettleCommand:
        raise ValueError("visit V-NONE was cancelled")

    def slots(person: str) -> desk.Slots:
        return desk.slots_of("H1", person, f"C-{person}-0", f"C-{person}-0")

    batch: list[desk.Command] = [_request(_claim("P1", 0)), desk.Incomplete(slots("P2"), read, whole),
             desk.Incomplete(slots("P3"), read, refused), _request(_claim("P4", 0))]  # fmt: skip
    results = _settled(batched, batch)
    assert seen == [[[]]]  # its read ran, with the batch (no such visit)
    assert isinstance(results[2], ValueError)
    assert "V-NONE was cancelled" in str(results[2])
    assert [r.status for r in results if isinstance(r, Reply)] == [201, 201, 201]
    assert _money(results[1]) == _money(_settled(alone, [_request(_claim("P2", 0))])[0])
    with pooled_transaction(batched) as db:
        assert checks.problems(db, DEMO) == []
        assert db.rows(*read[0]) == []
    assert all(isinstance(r, ValueError) for r in _settled(batched, [desk.Incomplete(slots("P5"), read, refused)]))


def test_a_batch_refuses_only_the_claims_it_must(engines: tuple[Engine, Engine]) -> None:
    engine, _ = engines
    first, later, settled = _request(_claim("P1", 0)), _request(_claim("P2", 3)), _request(_claim("P5", 0))
    for request in (first, later, settled):
        assert isinstance(_settled(engine, [request])[0], Reply)
    batch = [
        first,  # the same key and body again: its first reply
        _request(_claim("P3", 0), key=later.key),  # a key used with another body
        _request(_claim("NOBODY", 0)),
        _request(_claim("P5", 0), key="another key"),  # claim C-P5-0 is settled
        _request(_claim("P2", 1)),  # dated before P2's last settlement of 2024: settled in arrival order
        _request(_claim("P4", 0)),
    ]
    results = _settled(engine, batch)
    assert isinstance(results[0], Reply)
    assert results[0].replayed
    assert [r.code if isinstance(r, Problem) else getattr(r, "status", r) for r in results[1:]] == [
        "idempotency_key_reused",
        "person_not_found",
        "already_settled",
        201,
        201,
    ]
    assert isinstance(results[3], Problem)
    replayed = _settled(engine, [settled])[0]
    assert isinstance(replayed, Reply)
    assert results[3].extra["setl_id"] == json.loads(replayed.body)["setl_id"]


def test_a_batch_takes_one_claim_per_person_claim_and_key() -> None:
    with pytest.raises(ValueError, match="one claim per person"):
        desk.settle_commands(None, [_request(_claim("P1", 0)), _request(_claim("P1", 1))], DEMO)  # type: ignore[arg-type]
    waiting_queue = SettlementQueue(None, DEMO, max_batch=3)  # type: ignore[arg-type]
    waiting = [
        _request(_claim("P1", 0)),
        _request(_claim("P1", 1)),  # P1 again: next batch
        _request(_claim("P2", 0), key="k"),
        _request(_claim("P3", 0), key="k"),  # the same key: next batch
        _request(_claim("P2", 1)),  # behind P2's first claim: next batch
        _request(_claim("P4", 0)),
        _request(_claim("P5", 0)),  # the batch is full
    ]
    waiting_queue._waiting = [(r, asyncio.Future(loop=asyncio.new_event_loop())) for r in waiting]
    batches = []
    while waiting_queue._waiting:
        batches.append([r.claim.claim_id for r, _ in waiting_queue._next_batch() if isinstance(r, desk.SettleCommand)])
    assert batches == [
        ["C-P1-0", "C-P2-0", "C-P4-0"],
        ["C-P1-1", "C-P3-0", "C-P2-1"],
        ["C-P5-0"],
    ]


def _batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the desk settles from now on, in order."""
    sizes: list[int] = []
    settle = desk.settle_commands

    def counted(db: Any, requests: list[desk.Command], policy: Any) -> list[Reply | Exception]:
        sizes.append(len(requests))
        return settle(db, requests, policy)

    monkeypatch.setattr(desk, "settle_commands", counted)
    return sizes


def test_the_queue_batches_what_waits_and_isolates_a_failing_claim(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = engines
    sizes = _batch_sizes(monkeypatch)
    stranger = Caller("NOT-AN-INSTITUTION", "hospital", frozenset(SCOPES["hospital"]))  # its row breaks a foreign key
    requests = [_request(_claim(p, 0)) for p in PERSONS[:5]]
    requests.insert(2, _request(_claim("P9", 0), "s", stranger))

    async def all_at_once() -> list[Reply | BaseException]:
        queue = SettlementQueue(engine, DEMO)
        return await asyncio.gather(*(queue.settle(r) for r in requests), return_exceptions=True)

    results = asyncio.run(all_at_once())
    assert sizes == [6, 1, 1, 1, 1, 1, 1]  # one batch of all six, failed at the commit, then each alone
    assert [isinstance(r, Reply) and r.status == 201 for r in results] == [True, True, False, True, True, True]
    paid = [Decimal(json.loads(r.body)["fund_pay_sumamt"]) for r in results if isinstance(r, Reply)]
    assert len(paid) == 5
    assert all(p > 0 for p in paid)


def test_translations_run_when_the_batch_is_taken_and_a_failing_one_answers_its_own_request(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = engines
    sizes = _batch_sizes(monkeypatch)
    translated: list[str] = []

    def translation(person: str) -> desk.SettleCommand:
        translated.append(person)
        if person == "P2":
            raise Problem(422, "invalid_claim", "an unreadable message", "claim")
        return _request(_claim(person, 0))

    async def all_at_once() -> list[Reply | BaseException]:
        queue = SettlementQueue(engine, DEMO)
        settling = [queue.settle(functools.partial(translation, p)) for p in PERSONS[:4]]
        pending = asyncio.gather(*settling, return_exceptions=True)
        await asyncio.sleep(0)
        assert translated == []  # queued as they came: none translated before the batch is taken
        return await pending

    results = asyncio.run(all_at_once())
    assert translated == PERSONS[:4]
    assert sizes == [3]  # the three that translated, in one batch
    assert isinstance(results[2], Problem)
    assert results[2].code == "invalid_claim"
    assert [isinstance(r, Reply) and r.status == 201 for r in results] == [True, True, False, True]
