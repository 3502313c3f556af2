"""The test processes leave without Python's finalisation once pytest has reported.

The pytest process has died, rarely and at random, with ``free(): invalid pointer`` (glibc's
heap check) in the engine's own tests — always after a Dask client had run in the same process
(the simulation's Dask test, since moved into a ``medrelief simulate --dask`` process of its own),
never in a server process; the exact source is not found. As containment, README's test command
runs the API tests in a process of their own, and both processes end with :func:`os._exit` once
the results are written, so a late free in the interpreter's teardown cannot turn a reported
result into a crash. Nothing is lost: the summary, the exit status and pytest's cache are written
before.
"""

from __future__ import annotations

import os
import sys

import pytest

_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _STATUS and not hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_STATUS[-1])
