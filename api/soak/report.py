"""``medrelief soak``: seeds run one after the other, a line each; a failure shrunk and explained."""

from __future__ import annotations

from collections.abc import Iterable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from api.soak.history import Result, run, shrink
from api.soak.workload import generate
from settlement.terminal import console, out


def _line(result: Result) -> str:
    tally = result.tally
    done = f"{tally.steps} steps, {tally.checks} invariant checks, {tally.faults} faults injected"
    verdict = "no violation" if result.broken is None else "BROKEN"
    return f"seed {result.seed} ({result.backend}): {done} — {verdict} ({result.seconds:.1f} s)"


def _explain(seed: int, steps: int, backend: str, faults: bool, workers: int, do_shrink: bool, result: Result) -> None:
    broken = result.broken
    assert broken is not None
    where = broken.step.describe() if broken.step else "before the first step"
    out.print(
        f"  first broken invariant: {broken.invariant}, after {where}", highlight=False, soft_wrap=True, markup=False
    )
    out.print(f"  {broken.detail}", highlight=False, soft_wrap=True, markup=False)
    if result.server_log:
        out.print("  the server's last lines:", highlight=False)
        for line in result.server_log:
            out.print(f"    {line}", highlight=False, soft_wrap=True, markup=False)
    if do_shrink:
        with console.status("shrinking the history …"):
            kept, again = shrink(seed, generate(seed, steps, faults), backend, workers=workers)
        if again is not None:
            out.print(
                f"  shortest history found that breaks it ({len(kept)} steps): {again.invariant}", highlight=False
            )
            for step in kept:
                out.print(f"    {step.describe()}", highlight=False, soft_wrap=True)
    flags = " --faults" if faults else ""
    out.print(f"  replay: medrelief soak --seed {seed} --steps {steps} --backend {backend}{flags}", highlight=False)


def soak_seeds(seeds: Iterable[int], steps: int, backend: str, *, faults: bool, workers: int, shrink: bool) -> bool:
    """Run each seed's history; True when every invariant held in every run."""
    held = True
    totals = [0, 0, 0]
    columns = (TextColumn("seed {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    for seed in seeds:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(str(seed), total=steps)

            def progress(done: int, total: int, bar: Progress = bar, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            result = run(seed, generate(seed, steps, faults), backend, workers=workers, progress=progress)
        out.print(_line(result), highlight=False, soft_wrap=True)
        totals = [totals[0] + result.tally.steps, totals[1] + result.tally.checks, totals[2] + result.tally.faults]
        if result.broken is not None:
            held = False
            _explain(seed, steps, backend, faults, workers, shrink, result)
            break
    out.print(f"total: {totals[0]} steps, {totals[1]} invariant checks, {totals[2]} faults injected, "
              f"violations: {0 if held else 1}", highlight=False)  # fmt: skip
    return held
