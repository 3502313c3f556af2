"""Idempotency (``Idempotency-Key``, or the platform's ``msgid``): one reply per key.

The first reply is stored with the act in the same transaction, so a retry replays it byte for
byte; the same key with another request is refused (422); a retry while the first is still being
processed gets 409 — this process's registry of keys in flight (:func:`claimed`, the whole key),
and across workers an advisory lock per key on PostgreSQL (:mod:`api.books.reading`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from api.books.reading import KeyState
from api.errors import Problem

IN_FLIGHT = (409, "request_in_flight", "a request with this Idempotency-Key is still being processed")
_in_flight: set[tuple[str, str]] = set()
_in_flight_lock = threading.Lock()


@dataclass(frozen=True)
class Reply:
    """A reply to store and send: status, body (the protocol's own bytes), replayed or not."""

    status: int
    body: bytes
    replayed: bool = False


def request_hash(route: str, body: str) -> str:
    """What a key's request is remembered by: a hash of the act and its request."""
    return hashlib.sha256(f"{route}\n{body}".encode()).hexdigest()


@contextmanager
def claimed(institution_id: str, key: str | None) -> Iterator[None]:
    """This process's claim on a key while its request is processed: a second request with the
    same key meanwhile gets 409 (other workers: the advisory lock)."""
    if not key:
        yield
        return
    slot = (institution_id, key)
    with _in_flight_lock:
        if slot in _in_flight:
            raise Problem(*IN_FLIGHT)
        _in_flight.add(slot)
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight.discard(slot)


def replayed(state: KeyState, digest: str) -> Reply | None:
    """The stored reply of a key (same request), or None if the key is new; 409 while another
    transaction holds it, 422 when it was used with another request."""
    if not state.free:
        raise Problem(*IN_FLIGHT)
    if state.stored is None:
        return None
    if state.stored[0] != digest:
        raise Problem(
            422, "idempotency_key_reused", "this Idempotency-Key was used with another request", "Idempotency-Key"
        )
    return Reply(state.stored[1], state.stored[2], replayed=True)
