"""Loading the engine's compiled kernels before the first real request (the first call in a process
loads them from numba's cache, ~0.3 s; a hospital's first claim should not wait for it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from api.claims import ClaimFacts, claims_table, ledger_of
from settlement.engine import settle
from settlement.explanation import columns
from settlement.identities import IdentityPeriods, with_candidates
from tiers.tables import CompiledPolicy


def warm_up(policy: CompiledPolicy) -> dict[str, Any]:
    """Settle one made-up claim of a person holding two identities, as the desk settles claims
    (candidates, explanation); its explanation columns."""
    settles_as = policy.settles_as
    tier = policy.profiles.tiers[0]
    claim = ClaimFacts(
        "warm-up", "warm-up", next(iter(settles_as)), tier, policy.versions[0], "", False, 10_000, 0, 0, 0
    )
    periods = IdentityPeriods.of([("warm-up", c, policy.versions[0], None) for c in ("dibao", "tekun")])
    result = settle(with_candidates(claims_table([claim], settles_as), periods), policy, ledger_of([]), explain=True)
    explained = columns(result)
    assert int(np.sum(list(result.payments.values()))) + int(result.psn_part_amt[0]) == 10_000
    return explained
