"""Several worker processes on one port, each with a listening socket of its own (``SO_REUSEPORT``).

With uvicorn's own ``--workers`` every worker waits on one shared socket and whichever is idle
takes the connections that are queued: a worker busy settling a batch takes none, so connections
opened together pile up on the other, which then runs out of CPU while the other idles
(``benchmarks/README.md``). With a socket per worker the kernel spreads new connections over the
workers as they arrive, whatever each is doing. Linux only (elsewhere: uvicorn's workers).

``python -m api.workers --port 8000 --workers 2`` serves :func:`api.main.app_from_env`
(``medrelief serve`` migrates and prints demo keys first, then calls :func:`serve`). SIGTERM or
SIGINT stops every worker gracefully (requests in flight are answered); a worker that dies is
started again; when the supervisor itself dies, even by SIGKILL, its workers get SIGTERM (Linux's
parent-death signal) instead of serving on beside the next supervisor's. A worker that cannot
start (its app fails to load: a bad policy, a database it cannot reach or migrate) stops them
all: the supervisor exits with status 1 instead of starting it again and again. A worker killed
by a signal while it starts (an operator's ``kill``, the OOM killer) is started again: that says
nothing of the app.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from types import FrameType

import uvicorn

APP = "api.main:app_from_env"
REUSE_PORT = hasattr(socket, "SO_REUSEPORT") and sys.platform == "linux"
PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal this process gets when its parent dies (<linux/prctl.h>)."""


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _exit_with(supervisor: int) -> None:
    """SIGTERM this worker when ``supervisor`` (its parent) dies, however it dies: a worker left
    behind would go on serving the port (and an old version of the app) beside the next one's."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != supervisor:  # it died before the signal was asked for
        raise SystemExit("medrelief: the supervisor is gone; this worker stops")


def _worker(host: str, port: int, loop: str, log_level: str, loaded: Event, supervisor: int) -> None:
    _exit_with(supervisor)
    config = uvicorn.Config(APP, factory=True, loop=loop, log_level=log_level)
    config.load()  # the app: its errors are printed by the worker and stop the supervisor
    loaded.set()
    uvicorn.Server(config).run(sockets=[_listening(host, port)])


def serve(host: str, port: int, workers: int, loop: str = "auto", log_level: str = "warning") -> None:
    """Serve the app with ``workers`` processes (one: uvicorn in this process)."""
    if workers <= 1 or not REUSE_PORT:
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, loop=loop, log_level=log_level)
        return
    _listening(host, port).close()  # fail here, once, if the port is taken or the address wrong
    Supervisor(host, port, workers, loop, log_level).run()


class WorkerFailedToStart(SystemExit):
    """A worker exited before its app was loaded: starting it again would fail the same way."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"medrelief: a worker could not load the app (exit code {exitcode}; its error is above)")


class Supervisor:
    """Starts the workers, starts again one that dies, stops them all on SIGTERM/SIGINT or when
    one could not start."""

    def __init__(self, host: str, port: int, workers: int, loop: str, log_level: str) -> None:
        self.args = (host, port, loop, log_level)
        self.context = multiprocessing.get_context("spawn")
        self.loaded: dict[SpawnProcess, Event] = {}
        self.processes = [self._start() for _ in range(workers)]
        self.stopping = False

    def _start(self) -> SpawnProcess:
        loaded = self.context.Event()
        process = self.context.Process(target=_worker, args=(*self.args, loaded, os.getpid()), daemon=False)
        process.start()
        self.loaded[process] = loaded
        return process

    def _replaced(self, process: SpawnProcess) -> SpawnProcess:
        """``process`` if alive, else a new worker in its place (unless it never loaded the app)."""
        if process.is_alive():
            return process
        killed = process.exitcode is not None and process.exitcode < 0
        if not self.loaded.pop(process).is_set() and not killed:
            raise WorkerFailedToStart(process.exitcode)
        return self._start()

    def _stop(self, _signal: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            while not self.stopping:
                time.sleep(0.2)
                self.processes = [self._replaced(p) for p in self.processes]
        finally:
            self._stop_all()

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", choices=["auto", "asyncio"], default="auto")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    serve(args.host, args.port, args.workers, args.loop, args.log_level)


if __name__ == "__main__":
    main()
