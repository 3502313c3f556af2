"""How amounts are computed: the vectorised engine and its batch uses (no I/O of its own).

The public API — what a notebook or another service uses; everything else is internal:

- claims: :func:`from_frame` (a claims table → :class:`ClaimTable`, bad rows as
  :class:`ClaimValidationError` listing each :class:`ClaimProblem`), :class:`IdentityPeriods`
  and :func:`with_candidates` (categories from dated identities);
- settling: :func:`settle` → :class:`SettledBatch` (payments, ``closing()`` accumulators),
  :func:`explain`, :func:`resettle` → :class:`Resettled` (per-fund adjustments), :func:`caps_left`;
- books: :func:`read_text_table`, :func:`write_table`, :func:`reconcile` of two :class:`Side`\\ s,
  statement :func:`statement_totals`;
- actuaries: :func:`load_cohort`, :func:`simulate`, :func:`dask_client`.

Names are imported on first use, so ``import settlement`` (and the command line) stays light.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any


def _system_allocator() -> None:
    """Arrow allocates from the system's malloc, not its bundled mimalloc: mimalloc 3.3+ (pyarrow
    25–26) is reported to corrupt memory when threads come and go (apache/arrow#50908,
    microsoft/mimalloc#1287), as a service's thread pool does — a precaution (its cost is in
    benchmarks/README.md). Arrow picks its pool when it is imported (the environment variable), or
    later through ``set_memory_pool``; an environment that chose a pool keeps it."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    arrow = sys.modules.get("pyarrow")
    if arrow is not None and os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system":
        arrow.set_memory_pool(arrow.system_memory_pool())


_system_allocator()

_EXPORTS = {
    "ClaimProblem": "settlement.claims",
    "ClaimTable": "settlement.claims",
    "ClaimValidationError": "settlement.claims",
    "from_frame": "settlement.claims",
    "IdentityPeriods": "settlement.identities",
    "with_candidates": "settlement.identities",
    "SettledBatch": "settlement.engine",
    "settle": "settlement.engine",
    "explain": "settlement.explanation",
    "Resettled": "settlement.personyear",
    "resettle": "settlement.personyear",
    "caps_left": "settlement.caps",
    "read_text_table": "settlement.io",
    "write_table": "settlement.io",
    "Side": "settlement.reconcile",
    "reconcile": "settlement.reconcile",
    "statement_totals": "settlement.statement",
    "load_cohort": "settlement.simulation.cohort",
    "simulate": "settlement.simulation.run",
    "dask_client": "settlement.simulation.cluster",
}
_RENAMED = {"statement_totals": "totals"}
__all__ = [
    "ClaimProblem",
    "ClaimTable",
    "ClaimValidationError",
    "IdentityPeriods",
    "Resettled",
    "SettledBatch",
    "Side",
    "caps_left",
    "dask_client",
    "explain",
    "from_frame",
    "load_cohort",
    "read_text_table",
    "reconcile",
    "resettle",
    "settle",
    "simulate",
    "statement_totals",
    "with_candidates",
    "write_table",
]

if TYPE_CHECKING:
    from settlement.caps import caps_left
    from settlement.claims import ClaimProblem, ClaimTable, ClaimValidationError, from_frame
    from settlement.engine import SettledBatch, settle
    from settlement.explanation import explain
    from settlement.identities import IdentityPeriods, with_candidates
    from settlement.io import read_text_table, write_table
    from settlement.personyear import Resettled, resettle
    from settlement.reconcile import Side, reconcile
    from settlement.simulation.cluster import dask_client
    from settlement.simulation.cohort import load_cohort
    from settlement.simulation.run import simulate
    from settlement.statement import totals as statement_totals


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'settlement' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
