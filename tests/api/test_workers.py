"""Worker processes with a listening socket each: connections opened together spread over the
workers, a worker that dies is replaced, SIGTERM stops them all, a worker that cannot load the app
stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.workers import REUSE_PORT
from tests.api.servers import ESTABLISHED, LISTENING, ROOT, Server, free_port, gone, prepare, running, sockets_of

pytestmark = pytest.mark.skipif(not REUSE_PORT, reason="SO_REUSEPORT workers are Linux only")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'medrelief.db'}"
    running = Server(url, prepare(url), workers=2).start()
    yield running
    running.stop()


def test_connections_opened_together_spread_over_the_workers(server: Server) -> None:
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(32)]
    time.sleep(0.5)  # let the workers accept
    counts = [sockets_of(pid, server.port, ESTABLISHED) for pid in server.worker_pids()]
    for s in sockets:
        s.close()
    assert sum(counts) == 32
    assert min(counts) >= 6, counts  # with one shared socket: 2 and 30 here


def test_a_worker_that_dies_is_replaced(server: Server) -> None:
    first = server.worker_pids()
    assert len(first) == 2
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while first[0] in server.worker_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    server.wait_for_workers()
    assert first[0] not in server.worker_pids()
    for _ in range(20):
        assert httpx.get(server.base_url + "/healthz", timeout=30).status_code == 200


def test_a_worker_killed_while_it_starts_is_started_again(server: Server) -> None:
    """Killed before it has loaded the app (an operator's kill, the OOM killer): that says nothing
    of the app, so the supervisor starts another instead of stopping the service."""
    first = server.worker_pids()
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while len(fresh := [p for p in server.worker_pids() if p not in first]) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fresh, "no worker started in place of the one killed"
    assert sockets_of(fresh[0], server.port, LISTENING) == 0  # still loading the app
    os.kill(fresh[0], signal.SIGKILL)
    assert gone(fresh, 10)
    server.wait_for_workers()
    assert server.process is not None
    assert server.process.poll() is None  # the supervisor still runs
    assert not {*first[:1], *fresh} & set(server.worker_pids())
    assert httpx.get(server.base_url + "/healthz", timeout=30).status_code == 200


def test_sigterm_stops_every_worker(server: Server) -> None:
    assert server.process is not None
    workers = server.worker_pids()
    server.process.send_signal(signal.SIGTERM)  # the supervisor only, as `kill <pid>` would
    assert server.process.wait(30) == 0
    for pid in workers:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists()


def test_a_supervisor_killed_outright_takes_its_workers_with_it(server: Server) -> None:
    assert server.process is not None
    workers = server.worker_pids()
    assert len(workers) == 2
    assert all(running(pid) for pid in workers)
    server.process.kill()  # SIGKILL, the supervisor only: it cannot stop anything itself
    server.process.wait(10)
    assert gone(workers, 20), [pid for pid in workers if running(pid)]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/healthz", timeout=5)


def test_a_worker_that_cannot_load_the_app_stops_the_supervisor(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'medrelief.db'}", "MEDRELIEF_POLICY": "no-such"}
    command = [sys.executable, "-m", "api.workers", "--port", str(free_port()), "--workers", "2"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "no-such: no such policy file" in done.stderr
    assert "a worker could not load the app" in done.stderr
    assert done.stderr.count("Traceback") <= 2  # each worker once at most: none started again
