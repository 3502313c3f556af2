"""Each kind of step of a soak history, run against the server, with the answer it must get and
what it changes in the model (see :mod:`api.soak.runner`)."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from api.db import IDLE_PING_SECONDS
from api.soak import protocols
from api.soak.model import Claim, Identity
from api.soak.runner import HOSPITAL, Broken, Done, Soak
from api.soak.servers import gone
from api.soak.workload import Step, person_id
from tiers import PAYMENT_COLUMNS


def _key(protocol: str, claim: dict[str, Any]) -> str:
    return str(claim["claim_id"])[:30] if protocol == "nhsa" else f"k-{claim['claim_id']}"


def _acknowledged(soak: Soak, step: Step, claim: dict[str, Any], key: str, answer: protocols.Answer) -> str:
    if not answer.ok or answer.setl_id is None:
        raise Broken(step, "a claim is settled", f"{claim['claim_id']}: {answer.status} {answer.code}")
    soak.model.claims[answer.setl_id] = Claim(dict(claim), HOSPITAL, answer.setl_id)
    soak.model.replies[key] = answer.replayable
    return answer.setl_id


def settle_one(soak: Soak, step: Step) -> None:
    claim = step.claims[0]
    key = _key(step.protocol, claim)
    with soak.client() as client:
        answer = protocols.settle(client, step.protocol, claim, key, HOSPITAL)
    if not answer.ok and (answer.status == 503 or "database_" in str(answer.code)):
        answer = _retry_until_done(soak, step.protocol, claim, key)  # the database was away: the same key again
    setl_id = _acknowledged(soak, step, claim, key, answer)
    soak.done[step.index] = Done(step.protocol, [claim], [key], [setl_id])


def burst(soak: Soak, step: Step, kill_after: float | None = None, fault: Callable[[], None] | None = None) -> None:
    """The step's claims for one person, posted at once (each on its own connection); with
    ``kill_after``, ``fault`` strikes that many seconds in (default: the server is killed and
    started again), and every claim not acknowledged is retried with its key."""
    protocol_of = [step.protocol if i % 2 else ("native", "nhsa", "fhir")[i % 3] for i in range(len(step.claims))]
    answers: list[protocols.Answer | None] = [None] * len(step.claims)
    start = threading.Barrier(len(step.claims) + 1)

    def post(i: int) -> None:
        claim = step.claims[i]
        with soak.client() as client:
            start.wait()
            try:
                answers[i] = protocols.settle(client, protocol_of[i], claim, _key(protocol_of[i], claim), HOSPITAL)
            except httpx.HTTPError:
                answers[i] = None

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(step.claims))]
    for thread in threads:
        thread.start()
    start.wait()
    if kill_after is not None:
        time.sleep(kill_after)
        (fault or soak.server.kill)()
        soak.tally.faults += 1
    for thread in threads:
        thread.join(120)
    if kill_after is not None and fault is None:
        soak.server.start()
    keys = [_key(p, c) for p, c in zip(protocol_of, step.claims, strict=True)]
    setl_ids = []
    for i, claim in enumerate(step.claims):
        answer = answers[i]
        if answer is None or not answer.ok:  # lost with the server, or refused: retried with its key
            answer = _retry_until_done(soak, protocol_of[i], claim, keys[i])
        setl_ids.append(_acknowledged(soak, step, claim, keys[i], answer))
    soak.done[step.index] = Done(step.protocol, list(step.claims), keys, setl_ids)


def _again(answer: protocols.Answer) -> bool:
    """An answer a client retries later with the same key: no answer, the database away, or the
    first attempt still being settled (``request_in_flight``, its connection dropped mid-request)."""
    return answer.status in (0, 503) or "database_" in str(answer.code) or answer.code == "request_in_flight"


def _retry_until_done(soak: Soak, protocol: str, claim: dict[str, Any], key: str) -> protocols.Answer:
    """A request whose answer was lost (a crash, a dropped connection, a 503), retried with its key."""
    answer = protocols.Answer(False, None, "never sent", b"", 0)
    for _ in range(20):
        try:
            with soak.client() as client:
                answer = protocols.settle(client, protocol, claim, key, HOSPITAL)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if answer.ok or not _again(answer):
            return answer
        time.sleep(0.5)
    return answer


def retry(soak: Soak, step: Step) -> None:
    done = soak.done.get(step.target)
    if done is None:
        soak.tally.skipped += 1
        return
    claim, key = done.claims[0], done.keys[0]
    if step.same_body:
        with soak.client() as client:
            answer = protocols.settle(client, done.protocol, claim, key, HOSPITAL)
        if not answer.ok or answer.replayable != soak.model.replies[key]:
            raise Broken(step, "a retry replays the first reply byte for byte", f"{answer.status} {answer.code}")
        return
    other = {**claim, "medfee_sumamt": str(Decimal(claim["medfee_sumamt"]) + 1)}
    refused(soak, step, lambda client: protocols.settle(client, done.protocol, other, key, HOSPITAL),
            "idempotency_key_reused")  # fmt: skip


def refused(soak: Soak, step: Step, act: Callable[[httpx.Client], protocols.Answer], code: str) -> None:
    """``act`` must be refused with ``code`` (a few codes: ``a|b``; the platform names the field
    instead of a code for a field it cannot read) and leave the books exactly as they were."""
    before = soak.sizes()
    with soak.client() as client:
        answer = act(client)
    if answer.ok or not any(c in str(answer.code) for c in code.split("|")):
        raise Broken(step, f"refused with {code}", f"{answer.status} {answer.code}")
    soak.tally.checks += 1
    if soak.sizes() != before:
        raise Broken(step, "a refused request leaves no trace", f"{before} → {soak.sizes()}")


def reverse(soak: Soak, step: Step) -> None:
    done = soak.done.get(step.target)
    if done is None:
        soak.tally.skipped += 1
        return
    setl_id, claim = done.setl_ids[0], done.claims[0]
    model = soak.model.claims[setl_id]
    key, inpatient = f"r-{step.index}", claim["med_type"] == "21"

    def act(client: httpx.Client, target: str = setl_id) -> protocols.Answer:
        return protocols.reverse(client, step.protocol, target, key, HOSPITAL, inpatient)

    if model.reversed:  # reversing it again, or reversing its reversal: both refused
        again = model.reversal if model.reversal and step.index % 2 else setl_id
        refused(soak, step, lambda client: act(client, again), "already_reversed")
        return
    with soak.client() as client:
        answer = act(client)
    if not answer.ok:
        raise Broken(step, "a standing settlement is reversed", f"{answer.status} {answer.code}")
    model.reversed, model.reversal = True, answer.setl_id


def presettle(soak: Soak, step: Step) -> None:
    """A pre-settlement answers what settling the claim now would pay, and changes nothing."""
    claim = step.claims[0]
    before = soak.sizes()
    with soak.client() as client:
        answer = client.post("/v1/settlements/pre", json=claim)
    if answer.status_code != 200:
        raise Broken(step, "a claim is pre-settled", answer.text[:200])
    last = max((c.seq for c in soak.model.claims.values()), default=0)
    want = soak.model.expected(Claim(dict(claim), HOSPITAL, "pre", last + 1))["pre"]
    got = {o: int(Decimal(answer.json()[o]) * 100) for o in PAYMENT_COLUMNS}
    soak.tally.checks += 2
    if got != want:
        raise Broken(step, "a pre-settlement pays what the model says", f"{got} ≠ {want}")
    if soak.sizes() != before:
        raise Broken(step, "a pre-settlement stores nothing", f"{before} → {soak.sizes()}")


def grant(soak: Soak, step: Step) -> None:
    assert step.identity is not None
    category, start, end = step.identity
    person = person_id(soak.seed, step.person)
    body = {"category": category, "valid_from": start.isoformat(), **({"valid_to": end.isoformat()} if end else {})}
    with soak.client("admin") as admin:
        answer = admin.post(f"/v1/persons/{person}/identities", json=body)
        if answer.status_code != 201:
            raise Broken(step, "an identity is granted", answer.text[:200])
        ref = max(int(i["id"]) for i in admin.get(f"/v1/persons/{person}").json()["identities"])
    soak.model.identities[person].append(Identity(category, start, end, ref))


def revoke(soak: Soak, step: Step) -> None:
    person = person_id(soak.seed, step.person)
    held = soak.model.identities[person]
    if step.target >= len(held) or held[step.target].ref is None:
        soak.tally.skipped += 1
        return
    identity = held[step.target]
    with soak.client("admin") as admin:
        answer = admin.post(f"/v1/persons/{person}/identities/{identity.ref}/revocation")
    expected = 409 if identity.revoked else 200
    if answer.status_code != expected:
        raise Broken(step, f"a revocation is answered {expected}", answer.text[:200])
    identity.revoked = True


def bad(soak: Soak, step: Step) -> None:
    """A request that must be refused — and leave no trace."""
    claim = dict(step.claims[0])
    protocol, code = (
        step.protocol,
        {"future_date": "settle_date_in_future", "before_policy": "before_policy"}.get(step.bad, ""),
    )
    if step.bad == "future_date":
        claim["settle_date"] = "2099-06-01"
    elif step.bad == "before_policy":
        claim["settle_date"] = "2022-06-01"
    elif step.bad == "three_decimals":
        claim["medfee_sumamt"], code = f"{Decimal(claim['medfee_sumamt']):.2f}1", "invalid|medfee_sumamt"
    elif step.bad == "unknown_person":  # the platform registers a new person on first sight: not via NHSA
        protocol = "native" if protocol == "nhsa" else protocol
        claim["person_id"], code = f"nobody-{step.index}", "person_not_found" if protocol == "native" else "not"
    else:  # parts exceed the total
        claim["fulamt_ownpay_amt"], code = str(Decimal(claim["medfee_sumamt"]) + 1), "invalid"
    key = _key(protocol, claim)
    refused(soak, step, lambda client: protocols.settle(client, protocol, claim, key, HOSPITAL), code)


def payout(soak: Soak, step: Step) -> None:
    """The year's second payout: posted once (201), refused after (409); later claims of the year
    still settle and the payouts stay in the books."""
    year = int(step.extra.get("year", 2024))
    with soak.client("admin") as admin:
        answer = admin.post(f"/v1/second-payout/{year}", json={"insured": 100})
    ran = soak.done.get(-year) is not None
    if answer.status_code != (409 if ran else 201):
        raise Broken(step, "the second payout is posted once", f"{answer.status_code} {answer.text[:200]}")
    soak.done[-year] = Done("native", [], [], [])


def kill(soak: Soak, step: Step) -> None:
    """``kill -9`` of the server in the middle of a burst; nothing acknowledged is lost."""
    burst(soak, step, kill_after=0.05 + (step.index % 7) * 0.03)


def kill_worker(soak: Soak, step: Step) -> None:
    """``kill -9`` of one worker in the middle of a burst (its supervisor starts another)."""

    def strike() -> None:
        workers = soak.server.worker_pids()
        if workers:
            victim = workers[step.index % len(workers)]
            os.kill(victim, signal.SIGKILL)
            gone([victim], 10)  # dead, not dying: the workers waited for below are the ones after it
        else:
            soak.server.kill()
            soak.server.start()

    burst(soak, step, kill_after=0.02 + (step.index % 5) * 0.03, fault=strike)
    soak.server.wait_for_workers()


def drop(soak: Soak, step: Step) -> None:
    """A client that sends its claim and hangs up before the answer, then retries with its key:
    the claim is settled once."""
    claim = step.claims[0]
    key = _key(step.protocol, claim)
    request = soak.client().build_request("POST", "/x")  # the server's address and the hospital's key
    with socket.create_connection(("127.0.0.1", soak.server.port)) as raw:
        raw.sendall(_raw_post(step.protocol, claim, key, request.headers["authorization"]))
        time.sleep((step.index % 4) * 0.002)
    soak.tally.faults += 1
    answer = _retry_until_done(soak, step.protocol, claim, key)
    setl_id = _acknowledged(soak, step, claim, key, answer)
    soak.done[step.index] = Done(step.protocol, [claim], [key], [setl_id])


def _raw_post(protocol: str, claim: dict[str, Any], key: str, authorization: str) -> bytes:
    path, body, headers = protocols.settle_request(protocol, claim, key, HOSPITAL)
    data = json.dumps(body).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (f"POST {path} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nAuthorization: {authorization}"
            f"\r\n{extra}Content-Length: {len(data)}\r\n\r\n")  # fmt: skip
    return head.encode() + data


def slow(soak: Soak, step: Step) -> None:
    """A client on a slow line: its claim arrives in small pieces over about a second (chunked
    half the time, with a Content-Length the other half) while other requests go on; it is
    settled once, as if it had come at once."""
    claim = step.claims[0]
    key = _key(step.protocol, claim)
    path, body, headers = protocols.settle_request(step.protocol, claim, key, HOSPITAL)
    data = json.dumps(body, ensure_ascii=False).encode()
    pieces = [data[i : i + max(len(data) // 20, 1)] for i in range(0, len(data), max(len(data) // 20, 1))]

    def trickle() -> Iterator[bytes]:
        for piece in pieces:
            time.sleep(0.05)
            yield piece

    if step.index % 2:
        headers = {**headers, "Content-Length": str(len(data))}
    headers = {**headers, "Content-Type": "application/json"}
    soak.tally.faults += 1
    with soak.client() as client:
        answer = protocols.answer_of(step.protocol, client.post(path, content=trickle(), headers=headers))
    setl_id = _acknowledged(soak, step, claim, key, answer)
    soak.done[step.index] = Done(step.protocol, [claim], [key], [setl_id])


def disk_full(soak: Soak, step: Step) -> None:
    """SQLite: the disk fills up (the workers may not grow a file any more) in the middle of a burst;
    once room is made, every claim not acknowledged is retried. PostgreSQL: its server restarted."""
    if soak.cluster is not None:
        restart_db(soak, step)
        return
    database = Path(soak.url.removeprefix("sqlite:///"))
    size = max(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    workers = soak.server.worker_pids() or [soak.server.pid]
    for pid in workers:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (size + 4096, resource.RLIM_INFINITY))

    def room() -> None:
        for pid in workers:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    burst(soak, step, kill_after=0.3, fault=room)


def restart_db(soak: Soak, step: Step) -> None:
    """PostgreSQL restarted under the service (SQLite: the server killed instead); the next
    requests may get 503 and are retried with their keys."""
    if soak.cluster is None:
        soak.server.kill()
        soak.server.start()
    else:
        soak.cluster.restart()
        time.sleep(IDLE_PING_SECONDS + 0.5)  # from now on every pooled connection is pinged before use
    soak.tally.faults += 1


ACTS: dict[str, Callable[[Soak, Step], None]] = {
    "settle": settle_one, "burst": burst, "retry": retry, "reverse": reverse, "presettle": presettle, "grant": grant,
    "revoke": revoke, "bad": bad, "payout": payout, "kill": kill, "restart_db": restart_db, "kill_worker": kill_worker,
    "drop": drop, "slow": slow, "disk_full": disk_full,
}  # fmt: skip
