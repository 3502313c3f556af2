"""One soak run: a real server on a fresh database, a seeded history of acts, every invariant checked
after every step (see :mod:`api.soak`).

After each step: the books balance (:func:`api.books.checks.problems`, what ``medrelief db check``
runs) and equal the model (:mod:`api.soak.model`: the batch engine on the history so far); a
retry with the same key replays the first reply byte for byte; a refused request leaves the books
as they were; every answer is the one the act calls for. With faults, the server is killed
(``kill -9``) in the middle of a burst, or PostgreSQL restarted: afterwards every acknowledged act
is in the books once, and every unacknowledged one, retried with its key, is there once too.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from api.books import checks, queries
from api.db import open_database, pooled_transaction
from api.soak.model import Identity, Model
from api.soak.servers import Postgres, Server, postgres_cluster, prepare
from api.soak.workload import PERSONS, Step, person_id
from tiers import CompiledPolicy, compile_policy, load_policy

HOSPITAL = "H-ONE"


class Broken(Exception):
    """An invariant that did not hold, after which step and why."""

    def __init__(self, step: Step | None, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.step, self.invariant, self.detail = step, invariant, detail


@dataclass
class Tally:
    """What a run did: steps run, invariant checks made, faults injected."""

    steps: int = 0
    checks: int = 0
    faults: int = 0
    skipped: int = 0


@dataclass
class Done:
    """What a step left for later steps: its protocol, claims, keys and settlement ids."""

    protocol: str
    claims: list[dict[str, Any]]
    keys: list[str]
    setl_ids: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def database(backend: str, folder: Path) -> Iterator[tuple[str, Postgres | None]]:
    """A fresh database of ``backend``: its URL, and the PostgreSQL cluster it lives in."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'soak.db'}", None
        return
    with postgres_cluster() as cluster:
        if not isinstance(cluster, Postgres):
            raise SystemExit(f"medrelief soak --backend postgresql: {cluster}")
        yield cluster.create_database(), cluster


class Soak:
    """A server, its books, the model, and the history run so far."""

    def __init__(
        self, seed: int, url: str, cluster: Postgres | None, workers: int, bug: str = "", log: Path | None = None
    ) -> None:
        self.seed, self.url, self.cluster = seed, url, cluster
        self.policy: CompiledPolicy = compile_policy(load_policy("demo"))
        self.model = Model(self.policy)
        env = {"MEDRELIEF_PLANTED_BUG": bug} if bug else {}
        self.server = Server(url, prepare(url), workers=workers, env=env, log=log).start()
        self.database = open_database(url)
        self.done: dict[int, Done] = {}
        self.tally = Tally()

    def close(self) -> None:
        self.server.stop()
        self.database.dispose()

    def client(self, who: str = "hospital") -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, headers=self.server.headers(who), timeout=60)

    # -- the persons ---------------------------------------------------------------------------
    def register(self) -> None:
        rng = random.Random(self.seed)  # noqa: S311
        with self.client("admin") as admin:
            for i in range(PERSONS):
                held = rng.sample(["tekun", "dibao", "dibao_edge", "illness_poverty"], k=rng.randint(0, 2))
                periods = [{"category": c, "valid_from": "2024-01-01"} for c in held]
                answer = admin.post("/v1/persons", json={"person_id": person_id(self.seed, i), "identities": periods})
                self._expect(None, answer.status_code == 201, "register", answer.text)
                self.model.identities[person_id(self.seed, i)] = [Identity(c, date(2024, 1, 1), None) for c in held]
        self._learn_identity_refs()

    def _learn_identity_refs(self) -> None:
        with self.client("admin") as admin:
            for person, held in self.model.identities.items():
                stored = admin.get(f"/v1/persons/{person}").json()["identities"]
                for identity, row in zip(held, stored, strict=True):
                    identity.ref = int(row["id"])

    # -- checking ------------------------------------------------------------------------------
    def _expect(self, step: Step | None, ok: bool, invariant: str, detail: str) -> None:
        if not ok:
            raise Broken(step, invariant, detail)

    def books(self) -> tuple[list[str], list[dict[str, Any]], tuple[int, ...]]:
        with pooled_transaction(self.database, read_only=True) as db:
            return checks.problems(db, self.policy), queries.ledger(db), queries.sizes(db)

    def check(self, step: Step | None) -> None:
        """The books balance and equal the model (the arrival numbers taken from the books)."""
        problems, ledger, _ = self.books()
        self.tally.checks += 2
        self._expect(step, not problems, "books balance (medrelief db check)", "; ".join(problems[:3]))
        seqs = {row["setl_id"]: int(row["seq"]) for row in ledger}
        for setl_id, claim in self.model.claims.items():
            claim.seq = seqs.get(setl_id, claim.seq)
        differences = self.model.differences(ledger)
        self._expect(step, not differences, "books equal the model", "; ".join(differences[:3]))

    def sizes(self) -> tuple[int, ...]:
        return self.books()[2]
