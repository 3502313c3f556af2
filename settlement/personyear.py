"""Re-settling person-years after a retroactive change, with per-fund adjustments (a pure function).

When an identity is granted or revoked after the fact, or a claim is reversed, the person-years
it touches are settled again from the start: every standing claim (not reversed), in the order
it arrived, each under its most favourable category as the identity history now stands. What a
fund should have paid each claim, minus what it has effectively paid so far (the settlement and
every adjustment since), is that claim's adjustment (delta) for the fund; the re-settled
person-years' accumulators replace theirs. History is never rewritten: deltas are added.

The real-time service and a batch user get the same numbers: both call :func:`resettle` (the
service with the claims and identities of its books), and ``medrelief settle --identities`` on
the final history equals the effective payments to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.claims import ClaimTable
from settlement.engine import SettledBatch, settle
from tiers.tables import CompiledPolicy

I64 = npt.NDArray[np.int64]
ADJUSTMENT_COLUMNS = ("claim_id", "output", "delta")


@dataclass(frozen=True)
class Resettled:
    """Person-years settled again: the fresh settlement of their standing claims, each claim's
    per-fund adjustments (fen; non-zero only) and the person-years' closing accumulators."""

    batch: SettledBatch
    adjustments: pd.DataFrame  # ADJUSTMENT_COLUMNS: claim_id, output (layer column), delta (fen)

    def closing(self) -> pd.DataFrame:
        """The re-settled person-years' accumulators (from zero: the whole years were settled)."""
        return self.batch.closing()

    @property
    def category(self) -> I64:
        """The category each claim is now settled under (codes)."""
        return self.batch.category


def adjustments(claim_id: npt.NDArray[np.object_], should: dict[str, I64], paid: dict[str, I64]) -> pd.DataFrame:
    """Per claim and fund, what it should have paid minus what it paid (fen), where they differ."""
    parts = []
    for output in should:
        delta = should[output] - paid.get(output, 0)
        changed = np.flatnonzero(delta)
        parts.append(pd.DataFrame({"claim_id": claim_id[changed], "output": output, "delta": delta[changed]}))
    frame = pd.concat(parts, ignore_index=True)
    return frame.astype({"delta": np.int64})[list(ADJUSTMENT_COLUMNS)]


def resettle(claims: ClaimTable, paid: dict[str, I64], policy: CompiledPolicy) -> Resettled:
    """Settle the standing claims of whole person-years afresh (``claims``: with their arrival
    numbers and candidate categories) and the adjustments against what each fund has effectively
    ``paid`` each claim so far (fen per layer output, aligned with ``claims``)."""
    batch = settle(claims, policy)
    return Resettled(batch, adjustments(claims.claim_id, batch.payments, paid))
