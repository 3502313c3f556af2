"""Planted bugs, for testing the soak itself (``tests/api/test_soak.py``): never set in production.

``MEDRELIEF_PLANTED_BUG`` names one guard to switch off in this process; the soak must then report
a broken invariant. Each guard asks :func:`planted` where it stands:

- ``idempotency``: a retried key is settled again instead of replayed;
- ``person_lock``: a batch reads its persons' accumulators without locking them (PostgreSQL);
- ``transaction``: a settlement's rows and its accumulators commit in two transactions;
- ``reversal_adjustments``: a reversal does not re-settle the rest of its person-year.
"""

from __future__ import annotations

import os

BUGS = ("idempotency", "person_lock", "transaction", "reversal_adjustments")
_PLANTED = os.environ.get("MEDRELIEF_PLANTED_BUG", "")
if _PLANTED and _PLANTED not in BUGS:
    raise SystemExit(f"MEDRELIEF_PLANTED_BUG={_PLANTED!r}: expected one of {BUGS}")


def planted(bug: str) -> bool:
    """Whether the guard against ``bug`` is switched off in this process."""
    return bug == _PLANTED
