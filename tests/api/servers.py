"""Real servers for the API tests (:mod:`api.soak.servers`), and ``medrelief`` run as a user runs it.

Where no PostgreSQL binaries exist the PostgreSQL tests are skipped with a loud reason — unless
``MEDRELIEF_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where that is a failure (``conftest.py``).
"""

from __future__ import annotations

import subprocess
import sys

from api.soak.servers import (
    ESTABLISHED,
    EXIT_WITH_US,
    LISTENING,
    ROOT,
    Postgres,
    Server,
    free_port,
    gone,
    postgres_cluster,
    prepare,
    running,
    sockets_of,
)

__all__ = [
    "ESTABLISHED",
    "EXIT_WITH_US",
    "LISTENING",
    "ROOT",
    "Postgres",
    "Server",
    "free_port",
    "gone",
    "postgres_cluster",
    "prepare",
    "running",
    "sockets_of",
]

MEDRELIEF = [sys.executable, "-c", "from api.cli import app; app()"]
"""The ``medrelief`` command, run from the checkout as a user would."""


def medrelief(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``medrelief ARGS`` with ``env``; output captured, exit code returned, never raised."""
    return subprocess.run(
        [*MEDRELIEF, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )
