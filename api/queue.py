"""A worker's settlements in batches (group commit): the requests that arrive while one batch is
being settled make up the next.

Every settlement, whichever protocol sent it, is a :class:`~api.desk.SettleCommand` handed to
this worker's :class:`SettlementQueue`, which the route awaits — or the translation that makes
it (a :data:`Translation`: the request read, its message not yet translated). The queue lets the
event loop read what has arrived (until a couple of turns bring nothing new, at most
:data:`GATHER_SECONDS`), translates what waits, back to back (a translation that fails is its
request's answer), then settles every command waiting (at most :data:`MAX_BATCH`; one claim per
person, claim and key; otherwise in arrival order) with :func:`api.desk.settle_commands`: one
reading, one engine call, one write of all rows, one commit. A request alone (concurrency 1) is
a batch of one and waits for nobody; under load the reads, the engine's fixed cost, the
statements and the commit are shared by the batch. A batch that fails as a whole (a database
error) is tried again one request at a time, so one request's failure is its own.

The batch runs on the event loop: a worker settles one batch at a time, like a pre-fork server,
and more workers settle in parallel (PostgreSQL locks per person). On SQLite it waits for the
write lock on a thread instead when another process holds it, never blocking the loop on a lock.
The desk's other acts (a reversal, an identity granted) run one at a time through :func:`write`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api import desk
from api.books.driver import Driver
from api.db import immediate_writer, is_sqlite, is_unique_violation, pooled_transaction, write_gate
from api.idempotency import Reply
from tiers.tables import CompiledPolicy

T = TypeVar("T")
log = logging.getLogger("medrelief.api")
MAX_BATCH = 64
"""Settlements in one transaction at most (the rest wait for the next)."""
TURNS = 2
"""Turns of the event loop a request takes from being read to being queued (its task starts in
the next turn): the queue waits this long for newcomers before it takes a batch."""
GATHER_SECONDS = 0.005
"""The longest a batch waits for newcomers that keep arriving (its latency bound)."""
Translation = Callable[[], desk.Command]
"""A request's message translated into the desk's command when its batch is taken (what it
raises, a :class:`~api.errors.Problem` for one, answers the request)."""
Waiting = tuple[desk.Command | Translation, "asyncio.Future[Reply]"]
Ready = tuple[desk.Command, "asyncio.Future[Reply]"]


def _waiting_writer(database: Engine, work: Callable[[Driver], T]) -> T:
    with write_gate(database), pooled_transaction(database) as db:
        return work(db)


async def write(database: Engine, work: Callable[[Driver], T]) -> T:
    """Run ``work`` (one short write transaction) on this event loop; on SQLite, on a thread
    when another writer holds the lock. A hop to the threadpool and back costs CPU and, on
    PostgreSQL, the threads of one worker fight over the GIL (``benchmarks/README.md``)."""
    if not is_sqlite(database):
        with pooled_transaction(database) as db:
            return work(db)
    with immediate_writer(database) as writer:
        if writer is not None:
            return work(writer)
    return await run_in_threadpool(_waiting_writer, database, work)


def _answer(batch: list[Ready], results: list[Reply | BaseException]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # its request was cancelled meanwhile
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def _translated(waiting: list[Waiting]) -> list[Ready]:
    """The waiting requests as commands, each translation run now (one that raises answers its
    request with what it raised and leaves the queue)."""
    ready: list[Ready] = []
    for request, future in waiting:
        if isinstance(request, desk.SettleCommand | desk.Incomplete):
            ready.append((request, future))
            continue
        try:
            ready.append((request(), future))
        except Exception as error:
            if not future.done():
                future.set_exception(error)
    return ready


class SettlementQueue:
    """This worker's settlement requests waiting for their batch (see the module's text)."""

    def __init__(self, database: Engine, policy: CompiledPolicy, max_batch: int = MAX_BATCH) -> None:
        self.database, self.policy, self.max_batch = database, policy, max_batch
        self._waiting: list[Waiting] = []
        self._draining: asyncio.Task[None] | None = None

    async def settle(self, request: desk.Command | Translation) -> Reply:
        """The reply to ``request`` (a command, or its :data:`Translation`), once its batch is
        committed (what refused it is raised)."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._draining is None:
            # a task: it starts after the requests already read in this turn of the loop are queued
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await self._gathered()
                batch = self._next_batch()
                if batch:
                    _answer(batch, await self._settled([request for request, _ in batch]))
        finally:
            self._draining = None

    async def _gathered(self) -> None:
        """Let the event loop read the requests that have arrived meanwhile, and every request
        that arrives while it does, before a batch is taken (a request read in one turn of the
        loop is queued in the next; two turns without a new one and the batch goes)."""
        loop = asyncio.get_running_loop()
        waiting, deadline = -1, loop.time() + GATHER_SECONDS
        while waiting < len(self._waiting) < self.max_batch and loop.time() < deadline:
            waiting = len(self._waiting)
            for _ in range(TURNS):
                await asyncio.sleep(0)

    def _next_batch(self) -> list[Ready]:
        """The waiting requests to settle now: in arrival order, none sharing a person, claim or
        key with one taken or still waiting before it (that one goes first)."""
        taken: list[Ready] = []
        left: list[Waiting] = []
        seen: set[Hashable] = set()
        for waiting in _translated(self._waiting):
            slots = waiting[0].slots
            free = len(taken) < self.max_batch and seen.isdisjoint(slots)
            (taken if free else left).append(waiting)
            seen.update(slots)
        self._waiting = left
        return taken

    async def _settled(self, requests: list[desk.Command], retry: bool = True) -> list[Reply | BaseException]:
        """Each request's reply or error; a batch that fails as a whole, one request at a time. A
        claim refused by the database's uniqueness (another worker stored the same claim or key a
        moment before) is tried once more: it then reads what the other stored (409, or a replay)."""
        try:
            done: list[Reply | Exception] = await write(
                self.database, lambda db: desk.settle_commands(db, requests, self.policy)
            )
            return list(done)
        except Exception as error:
            if len(requests) == 1:
                again = retry and is_unique_violation(error)
                return await self._settled(requests, retry=False) if again else [error]
            log.warning("a batch of %d settlements failed (%r); settling them one at a time", len(requests), error)
            return [(await self._settled([request]))[0] for request in requests]
