"""Real servers for the soak and the API tests: a throwaway PostgreSQL cluster and service processes.

PostgreSQL: the binaries of the machine (``/usr/lib/postgresql/*/bin``, else ``initdb`` on
PATH) start a private cluster in a temporary directory on a free port (as the ``postgres`` user
when run as root); where there are none, :func:`postgres_cluster` yields the reason instead.
A :class:`Server` is ``python -m api.workers`` on a free port of loopback, with a key per kind of
institution (:func:`prepare`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.auth import create_key
from api.db import migrate, open_database, pooled_transaction
from api.workers import REUSE_PORT

ROOT = Path(__file__).parents[2]
"""The checkout (or the installation) the service process is started from."""


EXIT_WITH_US = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
"""A command prefix (util-linux): the server started gets SIGTERM when the process that started it
dies, so a test run killed from outside leaves no server behind (its fixtures' teardown never
runs). The prefix execs the server: its pid is the server's."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    """Debian's server binaries first (a stray ``initdb`` on PATH may be a client-only build)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class Postgres:
    bindir: Path
    datadir: Path
    port: int
    options: str = ""  # the server's command-line options (port, socket directory, …)
    log: Path | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        _run_as_owner([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])
        return self.url(name)

    def start(self) -> None:
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir)]
        _run_as_owner([*pg_ctl, "-o", self.options, "-w", "-l", str(self.log), "start"])

    def stop(self) -> None:
        """Stop at once, dropping every connection."""
        _run_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()


def _run_as_owner(args: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + args, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Postgres | str]:
    """A private PostgreSQL cluster in a fresh directory under /tmp, or the reason there is none.

    Not under pytest's temporary directory: that is private to the test user, and the server
    runs as ``postgres`` when the tests run as root.
    """
    bindir = _pg_bin()
    if bindir is None:
        yield "no PostgreSQL binaries (initdb) on this machine"
        return
    tmp = Path(tempfile.mkdtemp(prefix="medrelief-pg-"))
    datadir = tmp / "pgdata"
    datadir.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
        os.chown(datadir, owner.pw_uid, owner.pw_gid)
    port = free_port()
    _run_as_owner(
        [str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
    )
    options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c max_connections=300"
    cluster = Postgres(bindir, datadir, port, options, tmp / "pg.log")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


ESTABLISHED, LISTENING = "01", "0A"  # states in the kernel's TCP table


def sockets_of(pid: int, port: int, state: str) -> int:
    """Sockets on local ``port`` in ``state`` held by process ``pid`` (Linux: from /proc, its
    descriptors' socket inodes in the kernel's TCP table)."""
    inodes = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:  # the process is gone
        return 0
    for fd in descriptors:
        try:
            target = os.readlink(fd)
        except OSError:  # closed since it was listed (the process works on), or not a link
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, inode = int(fields[1].split(":")[1], 16), fields[9]
        count += local_port == port and fields[3] == state and inode in inodes
    return count


def _command_line(pid: int) -> str:
    """A process's command line, or "" when it is gone (a child listed a moment before it exited)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return ""


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a process killed is dead only once the kernel has torn it down; an
    exited child stays a zombie until it is reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def gone(pids: list[int], seconds: float) -> bool:
    """Wait up to ``seconds`` for every one of ``pids`` to stop running; whether they did."""
    deadline = time.monotonic() + seconds
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not any(running(pid) for pid in pids)


class ServerDown(RuntimeError):
    """The server did not come up (or back, after a fault)."""


@dataclass
class Server:
    """A uvicorn process serving the app on ``database_url``, with a key per kind of institution."""

    database_url: str
    keys: dict[str, str] = field(default_factory=dict)
    port: int = 0
    workers: int = 1
    loop: str = "auto"  # uvicorn's event loop: auto (uvloop when installed) or asyncio
    env: dict[str, str] = field(default_factory=dict)  # more of the server's environment (MEDRELIEF_POLICY, …)
    log: Path | None = None  # where the server's output goes (None: this process's own)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, who: str = "hospital", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}

    def client(self, who: str = "hospital") -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers(who), timeout=60)

    def start(self) -> Server:
        if not self.port:
            self.port = free_port()
        command = [*EXIT_WITH_US, sys.executable, "-m", "api.workers", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--loop", self.loop]
        env = {**os.environ, **self.env, "DATABASE_URL": self.database_url}
        with contextlib.ExitStack() as files:
            output = files.enter_context(self.log.open("ab")) if self.log else None
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, start_new_session=True, stdout=output, stderr=output
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    self.wait_for_workers()
                    return self
            if self.process.poll() is not None:
                raise ServerDown(f"server exited with {self.process.returncode}")
            time.sleep(0.2)
        raise ServerDown("server did not come up in 90 s")

    @property
    def pid(self) -> int:
        """The server's process (with one worker: the worker itself)."""
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The worker processes of a multi-worker server (:mod:`api.workers`)."""
        assert self.process is not None
        pid = self.process.pid
        if self.process.poll() is not None:
            raise ServerDown(f"the server exited with {self.process.returncode}")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children if "multiprocessing.spawn" in _command_line(int(c))]

    def wait_for_workers(self) -> None:
        """Wait until every worker listens: the first to start answers health checks alone, and
        takes every connection until the others listen too (a socket each, SO_REUSEPORT)."""
        deadline = time.monotonic() + 90
        while self.workers > 1 and REUSE_PORT and time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == self.workers and all(sockets_of(pid, self.port, LISTENING) for pid in pids):
                return
            time.sleep(0.2)
        if self.workers > 1 and REUSE_PORT:
            raise ServerDown(f"{self.workers} workers did not all listen within 90 s")

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines the server wrote (when it writes to :attr:`log`)."""
        if self.log is None or not self.log.exists():
            return []
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]

    def kill(self) -> None:
        """SIGKILL the server (and its workers): nothing is flushed or closed."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def prepare(database_url: str) -> dict[str, str]:
    """Migrate the database and create one key per kind (two hospitals)."""
    migrate(database_url)
    database = open_database(database_url)
    with pooled_transaction(database) as db:
        keys = {
            "hospital": create_key(db, "H-ONE", "hospital"),
            "hospital2": create_key(db, "H-TWO", "hospital"),
            "admin": create_key(db, "ADMIN", "admin"),
            "insurer": create_key(db, "INS", "insurer"),
            "actuary": create_key(db, "ACT", "actuary"),
        }
    database.dispose()
    return keys
