"""A lean HTTP/1.1 load client: keep-alive connections on one selector, one thread.

Each connection sends a request, waits for the whole response, records the latency and sends
the next — closed-loop, like wrk. Used by ``benchmarks/load.py`` because here (2 cores shared
with the server) wrk's latency statistics sometimes cannot add up, and an asyncio/httpx client
spends more CPU per request than the server it measures. Responses are parsed only as far as
the status line and ``Content-Length`` (the service always sends one).
"""

from __future__ import annotations

import math
import selectors
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Connection:
    sock: socket.socket
    started: float = 0.0
    buffer: bytes = b""


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: int = 0


def _responses(conn: _Connection) -> list[bytes]:
    """Status lines of the complete responses in the buffer (consumed)."""
    done = []
    while b"\r\n\r\n" in conn.buffer:
        head, rest = conn.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
        if len(rest) < length:
            break
        conn.buffer = rest[length:]
        done.append(lines[0])
    return done


def run(host: str, port: int, request: Callable[[], bytes], concurrency: int, seconds: float) -> Result:
    """Closed-loop load for ``seconds``: ``request()`` builds each raw request; 2xx counts as success
    (answers still on their way at the end are not counted)."""
    return _drive(host, port, request, concurrency, until=time.perf_counter() + seconds)


def run_each(host: str, port: int, requests: Iterable[bytes], concurrency: int) -> Result:
    """Each of ``requests`` sent once, ``concurrency`` at a time, until all are answered."""
    pending = iter(requests)
    return _drive(host, port, lambda: next(pending, None), concurrency, until=math.inf)


def _drive(host: str, port: int, request: Callable[[], bytes | None], concurrency: int, until: float) -> Result:
    """Each connection sends ``request()`` again as soon as it has its answer, until it is None or
    the time is ``until``."""
    selector = selectors.DefaultSelector()
    result = Result()
    connections = [_Connection(socket.create_connection((host, port))) for _ in range(concurrency)]
    for conn in connections:
        conn.sock.setblocking(False)
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    busy = sum(_send(conn, request()) for conn in connections)
    while busy and time.perf_counter() < until:
        for key, _ in selector.select(timeout=0.5):
            conn = key.data
            chunk = conn.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed a connection")
            conn.buffer += chunk
            for status in _responses(conn):
                now = time.perf_counter()
                if status.split()[1].startswith(b"2"):
                    result.latencies.append(now - conn.started)
                else:
                    result.errors += 1
                busy -= 1
                busy += _send(conn, request())
    for conn in connections:
        conn.sock.close()
    return result


def _send(conn: _Connection, request: bytes | None) -> bool:
    """Send ``request`` (if any) on ``conn``; whether one was sent."""
    if request is None:
        return False
    conn.started = time.perf_counter()
    conn.sock.sendall(request)
    return True
