"""Running a soak history, and shrinking a failing one to the shortest history that still fails.

``run(seed, history, backend)`` starts a fresh database and server, registers the persons, runs
each step and checks every invariant after it (:class:`api.soak.runner.Soak`), and stops at the
first broken invariant. ``shrink`` drops steps — halves, then quarters, … then single steps — as
long as the history still breaks an invariant (each try is a fresh run), and returns what is left.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.soak.acts import ACTS
from api.soak.runner import Broken, Soak, Tally, database
from api.soak.servers import ServerDown
from api.soak.workload import Step

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Result:
    """A run's outcome: the broken invariant (None: every one held) and what was done."""

    seed: int
    backend: str
    broken: Broken | None
    tally: Tally
    seconds: float
    server_log: tuple[str, ...] = ()  # the last lines the server wrote, when an invariant broke


def run(
    seed: int, history: list[Step], backend: str, *, workers: int = 2, bug: str = "", progress: Progress | None = None
) -> Result:
    """Run ``history`` on a fresh ``backend`` database (see the module's text)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="medrelief-soak-") as folder, database(backend, Path(folder)) as (url, pg):
        soak = Soak(seed, url, pg, workers, bug, log=Path(folder) / "server.log")
        broken: Broken | None = None
        server_log: tuple[str, ...] = ()
        try:
            soak.register()
            soak.check(None)
            for n, step in enumerate(history):
                _act(soak, step)
                soak.check(step)
                soak.tally.steps += 1
                if progress:
                    progress(n + 1, len(history))
        except Broken as error:
            broken, server_log = error, tuple(soak.server.log_tail())
        finally:
            soak.close()
    return Result(seed, backend, broken, soak.tally, time.perf_counter() - started, server_log)


def _act(soak: Soak, step: Step) -> None:
    """Run one step; a server that does not come back after a fault breaks availability."""
    try:
        ACTS[step.kind](soak, step)
    except ServerDown as error:
        raise Broken(step, "the server comes back after a fault", str(error)) from error


def shrink(
    seed: int, history: list[Step], backend: str, *, workers: int = 2, bug: str = "", tries: int = 40
) -> tuple[list[Step], Broken | None]:
    """The shortest history (found within ``tries`` runs) that still breaks an invariant."""
    failing = run(seed, history, backend, workers=workers, bug=bug)
    if failing.broken is None:
        return history, None
    last = failing.broken.step
    kept = history[: history.index(last) + 1] if last in history else history
    broken, chunk = failing.broken, max(len(kept) // 2, 1)
    while chunk >= 1 and tries > 0:
        i, progressed = 0, False
        while i < len(kept) and tries > 0:
            candidate = kept[:i] + kept[i + chunk :]
            tries -= 1
            attempt = run(seed, candidate, backend, workers=workers, bug=bug) if candidate else None
            if attempt is not None and attempt.broken is not None:
                kept, broken, progressed = candidate, attempt.broken, True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    return kept, broken
