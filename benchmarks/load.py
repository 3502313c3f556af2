"""Load test of the real-time service: sustained settlements/s and latency at several concurrencies.

    python -m benchmarks.load --backend sqlite --workers 1 --concurrency 1 16 64 --seconds 10
    python -m benchmarks.load --backend postgresql --workers 2 --concurrency 1 16 64 --seconds 10
    python -m benchmarks.load --backend sqlite --protocol native nhsa fhir --rounds 2 --concurrency 1 16

Starts its own server (uvicorn, ``--workers``, ``--loop``) on a fresh database (a SQLite file,
or a private PostgreSQL cluster), registers persons (16 requests at a time), then posts
settlements (each request a distinct claim with an Idempotency-Key; persons drawn at random so
caps bind; the requests built before the clock starts) for ``--seconds`` per concurrency level,
after a one-second warm-up. The client is
``benchmarks/socket_client.py`` (keep-alive connections on one selector: a few tens of µs per
request) or Debian's ``wrk`` (``--client wrk``; its latency statistics are checked for
plausibility). Reports throughput, p50/p99 latency and errors, then checks the books
(Σ settlements + adjustments == accumulators, every cap respected).

``--protocol native nhsa fhir`` settles the same kind of claims through each protocol in turn,
on one server, ``--rounds`` times alternating at every concurrency, the order rotated each round
(a side-by-side comparison on a noisy machine): the native ``POST /v1/settlements``, the
platform's 2207/2304 in its envelope (``POST /nhsa``, ``msgid`` the key) and a FHIR Claim
(``POST /fhir/Claim``). At the end each protocol's rate over native's in the same round
(:func:`paired_ratios`): the median and quartiles over the rounds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from api.books import checks
from api.db import open_database, pooled_transaction
from api.soak.servers import Postgres, Server, postgres_cluster, prepare
from benchmarks import socket_client
from tiers.codes import CATEGORIES
from tiers.loader import load_policy
from tiers.tables import compile_policy


@dataclass
class Level:
    backend: str
    protocol: str
    workers: int
    concurrency: int
    settlements: int
    errors: int
    per_second: float
    p50_ms: float
    p99_ms: float
    round: int = 0


def _claim(person: str, rng: random.Random) -> dict[str, Any]:
    inpatient = rng.random() < 0.4
    total = round(rng.lognormvariate(9.5 if inpatient else 6.0, 1.0), 2)
    return {
        "claim_id": uuid.uuid4().hex,
        "person_id": person,
        "med_type": "21" if inpatient else rng.choice(["11", "14"]),
        "hospital_level": rng.randint(1, 3),
        "settle_date": "2024-06-01",
        "diagnosis": rng.choice(["C50.1", "I63.9", "J18.9", "K35.8"]),
        "medfee_sumamt": f"{total:.2f}",
        "fulamt_ownpay_amt": f"{total * 0.05:.2f}",
    }


def _nhsa(claim: dict[str, Any]) -> dict[str, Any]:
    """The claim as a hospital system sends it: 2304 (inpatient) or 2207, in the platform's envelope."""
    data = {
        "psn_no": claim["person_id"], "mdtrt_id": claim["claim_id"][:30], "med_type": claim["med_type"],
        "medfee_sumamt": float(claim["medfee_sumamt"]), "fulamt_ownpay_amt": float(claim["fulamt_ownpay_amt"]),
        "hosp_lv": str(claim["hospital_level"]), "dise_codg": claim["diagnosis"], "insutype": "390",
        "setl_time": f"{claim['settle_date']} 10:00:00",
    }  # fmt: skip
    infno = "2304" if claim["med_type"] == "21" else "2207"
    return {
        "infno": infno, "msgid": claim["claim_id"][:30], "mdtrtarea_admvs": "320600", "infver": "V1.0",
        "opter_type": "1", "opter": "001", "inf_time": f"{claim['settle_date']} 10:00:00", "fixmedins_code": "H-ONE",
        "input": {"data": data},
    }  # fmt: skip


MED_TYPE = "https://medrelief.dev/fhir/CodeSystem/med_type"


def _fhir(claim: dict[str, Any]) -> dict[str, Any]:
    """The claim as a FHIR Claim: an in-policy item and a 全自费 item."""
    own = float(claim["fulamt_ownpay_amt"])
    inscp = round(float(claim["medfee_sumamt"]) - own, 2)
    part = "https://medrelief.dev/fhir/CodeSystem/bill-part"
    return {
        "resourceType": "Claim", "identifier": [{"system": "https://load.example/claims", "value": claim["claim_id"]}],
        "status": "active", "use": "claim",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
        "subType": {"coding": [{"system": MED_TYPE, "code": claim["med_type"]}]},
        "patient": {"reference": f"Patient/{claim['person_id']}"}, "created": claim["settle_date"],
        "billablePeriod": {"end": claim["settle_date"]}, "provider": {"reference": "Organization/H-ONE"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{claim['person_id']}"}}],
        "extension": [{"url": "https://medrelief.dev/fhir/StructureDefinition/hospital-level",
                       "valueInteger": claim["hospital_level"]}],
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {
            "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": claim["diagnosis"]}]}}],
        "item": [_item(1, "政策范围内", part, "inscp", inscp), _item(2, "全自费", part, "fulamt_ownpay", own)],
        "total": {"value": float(claim["medfee_sumamt"]), "currency": "CNY"},
    }  # fmt: skip


def _item(sequence: int, text: str, system: str, code: str, net: float) -> dict[str, Any]:
    category = {"coding": [{"system": system, "code": code}]}
    return {"sequence": sequence, "productOrService": {"text": text}, "category": category, "net": {"value": net}}


PROTOCOLS = ("native", "nhsa", "fhir")


def _raw_request(persons: list[str], key: str, rng: random.Random, protocol: str = "native") -> bytes:
    claim = _claim(rng.choice(persons), rng)
    if protocol == "nhsa":
        return _raw_post("/nhsa", _nhsa(claim), key)
    if protocol == "fhir":
        return _raw_post("/fhir/Claim", _fhir(claim), key, claim["claim_id"])
    return _raw_post("/v1/settlements", claim, key, claim["claim_id"])


def _raw_post(path: str, body: dict[str, Any], key: str, idempotency_key: str | None = None) -> bytes:
    data = json.dumps(body).encode()
    idempotency = f"Idempotency-Key: {idempotency_key}\r\n" if idempotency_key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\n{idempotency}Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


PREBUILT_PER_SECOND = 4_000
"""Requests built before a level starts, per second of it (more than any level has sustained here),
so the client's CPU — which shares the machine's two cores with the server — is not spent building
bigger bodies for one protocol than for another while the clock runs; more are built on the fly."""


def _prebuilt(people: list[str], key: str, rng: random.Random, protocol: str, seconds: float) -> Callable[[], bytes]:
    built = [_raw_request(people, key, rng, protocol) for _ in range(int(PREBUILT_PER_SECOND * seconds))]
    more = (_raw_request(people, key, rng, protocol) for _ in itertools.count())
    return itertools.chain(built, more).__next__


def _socket_level(
    server: Server, people: list[str], concurrency: int, seconds: float, protocol: str = "native"
) -> tuple[int, int, float, float]:
    rng = random.Random(concurrency)  # noqa: S311 — load data, not secrets
    key = server.keys["hospital"]
    socket_client.run("127.0.0.1", server.port, _prebuilt(people, key, rng, protocol, 1.0), concurrency, 1.0)
    request = _prebuilt(people, key, rng, protocol, seconds)
    result = socket_client.run("127.0.0.1", server.port, request, concurrency, seconds)
    cuts = statistics.quantiles(result.latencies, n=100) if len(result.latencies) > 1 else [0.0] * 99
    return len(result.latencies), result.errors, cuts[49] * 1e3, cuts[98] * 1e3


WRK_SCRIPT = Path(__file__).with_name("wrk_settle.lua")


def _wrk_level(server: Server, persons: int, concurrency: int, seconds: float) -> tuple[int, int, float, float]:
    """(settlements, errors, p50 ms, p99 ms) from wrk (a C client: the server is measured, not Python)."""
    env = {**os.environ, "MEDRELIEF_KEY": server.keys["hospital"], "MEDRELIEF_PERSONS": str(persons)}
    threads = min(concurrency, 2)
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency", "--timeout", "30s"]
    done = subprocess.run(
        [*command, "-s", str(WRK_SCRIPT), server.base_url], env=env, capture_output=True, text=True, check=True
    )
    text = done.stdout
    if os.environ.get("MEDRELIEF_LOAD_VERBOSE"):
        print(text)
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    p50, p99 = (_ms(re.search(rf"\s{q}%\s+([\d.]+\w+)", text).group(1)) for q in ("50", "99"))  # type: ignore[union-attr]
    average = _ms(re.search(r"Latency\s+([\d.]+\w+)", text).group(1))  # type: ignore[union-attr]
    busy = average * total / 1e3 / concurrency
    if busy > 1.05 * seconds:
        # each connection cannot have waited longer than the run lasted: these latencies are wrong
        print(
            f"warning: wrk's latencies add up to {busy:.1f} s per connection in a {seconds:.0f} s run; "
            "its percentiles are not trustworthy here — measure latency with --client python",
            flush=True,
        )
    return total - errors, errors, p50, p99


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _register(server: Server, n: int) -> list[str]:
    """``n`` persons, each with one identity of a random category, registered 16 at a time."""
    persons = [f"LP{i:06d}" for i in range(n)]
    rng = random.Random(0)  # noqa: S311
    bodies = [
        {"person_id": person, "identities": [{"category": rng.choice(CATEGORIES), "valid_from": "2024-01-01"}]}
        for person in persons
    ]
    requests = (_raw_post("/v1/persons", body, server.keys["admin"]) for body in bodies)
    result = socket_client.run_each("127.0.0.1", server.port, requests, concurrency=16)
    if result.errors or len(result.latencies) != n:
        raise RuntimeError(f"registering {n} persons: {result.errors} refused, {len(result.latencies)} registered")
    return persons


def rotated(protocols: tuple[str, ...], round_: int) -> tuple[str, ...]:
    """The protocols' order in a round, rotated by one each round: over as many rounds as there
    are protocols each runs once in every position, so none always runs on the books the others
    have just grown (the database grows through the run).

    >>> [rotated(("native", "nhsa", "fhir"), r) for r in range(3)]
    [('native', 'nhsa', 'fhir'), ('nhsa', 'fhir', 'native'), ('fhir', 'native', 'nhsa')]
    """
    shift = round_ % len(protocols)
    return protocols[shift:] + protocols[:shift]


def paired_ratios(levels: list[Level], baseline: str = "native") -> dict[tuple[int, str], list[float]]:
    """Each protocol's settlements/s over the ``baseline``'s in the same round, by (concurrency,
    protocol): a ratio of two runs a few seconds apart, which the machine's drift (other tenants,
    the books growing) moves far less than it moves either run.

    >>> runs = [(0, "native", 1000), (0, "fhir", 900), (1, "fhir", 460), (1, "native", 500)]
    >>> levels = [Level("sqlite", protocol, 1, 16, 0, 0, rate, 0, 0, r) for r, protocol, rate in runs]
    >>> paired_ratios(levels)
    {(16, 'fhir'): [0.9, 0.92]}
    """
    rates = {(level.concurrency, level.round, level.protocol): level.per_second for level in levels}
    out: dict[tuple[int, str], list[float]] = {}
    for (concurrency, round_, protocol), rate in rates.items():
        base = rates.get((concurrency, round_, baseline))
        if protocol != baseline and base:
            out.setdefault((concurrency, protocol), []).append(round(rate / base, 3))
    return out


def _print_ratios(levels: list[Level]) -> None:
    for (concurrency, protocol), ratios in paired_ratios(levels).items():
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(
            f"{protocol} / native at concurrency {concurrency}: median {statistics.median(ratios):.2f} of "
            f"{len(ratios)} rounds (quartiles {quartiles[0]:.2f}–{quartiles[2]:.2f})",
            flush=True,
        )


def run(
    backend: str,
    url: str,
    workers: int,
    levels: list[int],
    seconds: float,
    persons: int,
    client: str,
    loop: str = "auto",
    protocols: tuple[str, ...] = ("native",),
    rounds: int = 1,
) -> list[Level]:
    server = Server(url, prepare(url), workers=workers, loop=loop).start()
    try:
        people = _register(server, persons)
        results = []
        for concurrency in levels:
            for round_ in range(rounds):
                for protocol in rotated(protocols, round_):
                    if client == "wrk":
                        done, errors, p50, p99 = _wrk_level(server, persons, concurrency, seconds)
                    else:
                        done, errors, p50, p99 = _socket_level(server, people, concurrency, seconds, protocol)
                    rate = done / seconds
                    results.append(Level(backend, protocol, workers, concurrency, done, errors, rate, p50, p99, round_))
                    print(json.dumps(asdict(results[-1])), flush=True)
    finally:
        server.stop()
    _print_ratios(results)
    database = open_database(url)
    with pooled_transaction(database, read_only=True) as db:
        problems = checks.problems(db, compile_policy(load_policy("demo")))
    database.dispose()
    print(f"books: {'consistent' if not problems else problems[:5]}", flush=True)
    assert not problems
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--client", choices=["socket", "wrk"], default="socket")
    parser.add_argument("--loop", choices=["auto", "asyncio"], default="auto", help="uvicorn's event loop")
    parser.add_argument("--protocol", choices=PROTOCOLS, nargs="+", default=["native"])
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the protocols at each concurrency")
    args = parser.parse_args()
    options = (args.client, args.loop, tuple(args.protocol), args.rounds)
    if args.backend == "sqlite":
        import tempfile

        url = f"sqlite:///{tempfile.mkdtemp(prefix='medrelief-load-')}/load.db"
        run("sqlite", url, args.workers, args.concurrency, args.seconds, args.persons, *options)
        return
    with postgres_cluster() as cluster:
        if not isinstance(cluster, Postgres):
            raise SystemExit(f"no PostgreSQL: {cluster}")
        url = cluster.create_database()
        run("postgresql", url, args.workers, args.concurrency, args.seconds, args.persons, *options)


if __name__ == "__main__":
    main()
