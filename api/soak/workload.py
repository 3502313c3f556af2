"""The soak's seeded workload: a history of acts on a few persons, the same for the same seed.

Acts: settle (native, NHSA, FHIR; dates in any order), pre-settle, a retry with the same key and
the same body (must replay) or another body (must be refused), reversal (and a second reversal:
refused, and so is reversing the reversal), back-dated grants and revocations of identities,
bursts of concurrent claims for one person, bad requests (must leave no trace), the year's second
payout, and — with faults — the server or one worker killed (``kill -9``) in the middle of a
burst, the database restarted, SQLite's disk full, a client that hangs up before its answer, a
client that sends its claim slowly in pieces. A step that
refers to an earlier one (a retry, a reversal) names its index: when the shrinker drops the
earlier one, the later is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from api.soak.protocols import PROTOCOLS

CATEGORIES = ("tekun", "dibao", "fanpin", "dibao_edge", "monitored", "illness_poverty", "expense_hardship")
PERSONS = 6
BAD = ("future_date", "before_policy", "three_decimals", "unknown_person", "parts_exceed_total")


@dataclass(frozen=True)
class Step:
    """One act of the history: its kind and what it needs."""

    index: int
    kind: str
    protocol: str = "native"
    person: int = 0
    claims: tuple[dict[str, Any], ...] = ()
    target: int = -1  # the step a retry or reversal refers to
    same_body: bool = True
    identity: tuple[str, date, date | None] | None = None
    bad: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        what: dict[str, Callable[[], str]] = {
            "settle": lambda: f"{self.protocol} settle {self.claims[0]['claim_id']} ({_brief(self.claims[0])})",
            "burst": lambda: f"burst of {len(self.claims)} claims for person {self.person}",
            "retry": lambda: f"retry of step {self.target} with {'the same' if self.same_body else 'another'} body",
            "reverse": lambda: f"{self.protocol} reversal of step {self.target}",
            "presettle": lambda: f"pre-settle ({_brief(self.claims[0])})",
            "grant": lambda: f"grant person {self.person} {self.identity}",
            "revoke": lambda: f"revoke person {self.person}'s identity #{self.target}",
            "bad": lambda: f"bad request: {self.bad}",
            "payout": lambda: f"second payout of {self.extra.get('year')}",
            "kill": lambda: "kill -9 the server during a burst",
            "kill_worker": lambda: "kill -9 one worker during a burst",
            "drop": lambda: f"{self.protocol} settle {self.claims[0]['claim_id']}, the connection dropped, retried",
            "slow": lambda: f"{self.protocol} settle {self.claims[0]['claim_id']} sent slowly, in pieces",
            "disk_full": lambda: "the disk full during a burst",
            "restart_db": lambda: "restart the database",
        }
        return f"#{self.index} " + what.get(self.kind, lambda: self.kind)()


def _brief(claim: dict[str, Any]) -> str:
    return f"{claim['person_id']} {claim['med_type']} {claim['settle_date']} {claim['medfee_sumamt']}"


def person_id(seed: int, person: int) -> str:
    return f"S{seed}-P{person}"


def _claim(rng: random.Random, seed: int, step: int, j: int, person: int) -> dict[str, Any]:
    med = rng.choice(["21", "21", "14", "11"])
    total = Decimal(rng.choice([300, 2_500, 18_000, 60_000, 150_000])) + Decimal(rng.randint(0, 99_999)) / 100
    own = (total * Decimal(rng.choice(["0", "0.03", "0.15"]))).quantize(Decimal("0.01"))
    day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 365 + 150))
    return {
        "claim_id": f"K{seed}-{step}-{j}",
        "person_id": person_id(seed, person),
        "med_type": med,
        "hospital_level": rng.randint(1, 3),
        "settle_date": day.isoformat(),
        "diagnosis": rng.choice(["C50.1", "J18.9", "I63.9", "S72.0", ""]),
        "accident": rng.random() < 0.1,
        "medfee_sumamt": f"{total:.2f}",
        "fulamt_ownpay_amt": f"{own:.2f}",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
    }


KINDS = {
    "settle": 30, "retry": 8, "presettle": 6, "reverse": 7, "grant": 6, "revoke": 4, "burst": 6, "bad": 5,
    "payout": 1,
}  # fmt: skip
FAULTS = {"kill": 2, "restart_db": 1, "kill_worker": 2, "drop": 2, "slow": 1, "disk_full": 1}


def generate(seed: int, steps: int, faults: bool = False) -> list[Step]:
    """A history of ``steps`` acts for ``seed`` (the same every time)."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible workload, not a secret)
    kinds = dict(KINDS) | (FAULTS if faults else {})
    history: list[Step] = []
    settles: list[int] = []
    granted: dict[int, int] = {}
    for index in range(steps):
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        person = rng.randrange(PERSONS)
        if kind in ("retry", "reverse") and not settles:
            kind = "settle"
        if kind == "revoke" and not granted.get(person):
            kind = "grant"
        step = _step(rng, seed, index, kind, person, settles, granted)
        if step.kind in ("settle", "drop", "slow"):
            settles.append(index)
        if step.kind == "grant":
            granted[person] = granted.get(person, 0) + 1
        history.append(step)
    return history


def _step(
    rng: random.Random, seed: int, index: int, kind: str, person: int, settles: list[int], granted: dict[int, int]
) -> Step:
    protocol = rng.choice(PROTOCOLS)
    if kind in ("settle", "presettle", "drop", "slow"):
        return Step(index, kind, protocol, person, (_claim(rng, seed, index, 0, person),))
    if kind in ("burst", "kill", "kill_worker", "disk_full"):
        claims = tuple(_claim(rng, seed, index, j, person) for j in range(rng.randint(3, 6)))
        return Step(index, kind, protocol, person, claims)
    if kind == "retry":
        return Step(index, kind, target=rng.choice(settles), same_body=rng.random() < 0.7)
    if kind == "reverse":
        return Step(index, kind, rng.choice(["native", "nhsa"]), target=rng.choice(settles))
    if kind == "grant":
        start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 300))
        end = None if rng.random() < 0.6 else start + timedelta(days=rng.randint(30, 400))
        return Step(index, kind, person=person, identity=(rng.choice(CATEGORIES), start, end))
    if kind == "revoke":
        return Step(index, kind, person=person, target=rng.randrange(granted[person]))
    if kind == "bad":
        return Step(index, kind, protocol, person, (_claim(rng, seed, index, 0, person),), bad=rng.choice(BAD))
    if kind == "payout":
        return Step(index, kind, extra={"year": 2024})
    return Step(index, kind)
