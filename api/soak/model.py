"""The model the soak checks the service against: a small, obviously correct account of the books.

Per person: the identity history (granted, revoked); per claim: who sent it, its fields, its
arrival number and whether it was reversed; per idempotency key: the reply first given. What
every fund should have paid every standing claim is one batch settlement of the standing claims
(in arrival order) under the identity history as it now stands — the engine's public batch API
only (:mod:`settlement`), never the service's code; a reversed claim should have received
nothing in total. This is the specification: whatever history of grants, revocations, reversals,
retries and crashes led here, the books must equal it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from settlement import IdentityPeriods, from_frame, settle, with_candidates
from tiers import PAYMENT_COLUMNS, CompiledPolicy

CLAIM_FIELDS = (
    "claim_id", "person_id", "med_type", "hospital_level", "settle_date", "diagnosis", "accident",
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
)  # fmt: skip


@dataclass
class Identity:
    """One identity period of a person, as granted (``ref``: the service's id once known)."""

    category: str
    start: date
    end: date | None
    ref: int | None = None
    revoked: bool = False


@dataclass
class Claim:
    """A claim the service acknowledged (or was found to hold after a crash)."""

    body: dict[str, Any]  # the native claim's fields (yuan as text)
    institution: str
    setl_id: str
    seq: int = 0  # the service's arrival number (read from the books: bursts race)
    reversed: bool = False
    reversal: str | None = None  # the reversal's setl_id, once reversed

    @property
    def person(self) -> str:
        return str(self.body["person_id"])


@dataclass
class Model:
    """The books as they should be (see the module's text)."""

    policy: CompiledPolicy
    identities: dict[str, list[Identity]] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)  # by setl_id
    replies: dict[str, bytes] = field(default_factory=dict)  # first reply under each key

    def standing(self) -> list[Claim]:
        return [c for c in self.claims.values() if not c.reversed]

    def periods(self) -> IdentityPeriods:
        return IdentityPeriods.of(
            [
                (person, i.category, i.start, i.end)
                for person, held in self.identities.items()
                for i in held
                if not i.revoked
            ]
        )

    def expected(self, extra: Claim | None = None) -> dict[str, dict[str, int]]:
        """Per standing claim (and ``extra``, arriving last): what each fund should have paid (fen)."""
        claims = self.standing() + ([extra] if extra is not None else [])
        if not claims:
            return {}
        rows = [
            {**{f: str(c.body[f]) for f in CLAIM_FIELDS}, "claim_id": c.setl_id, "arrival": str(c.seq)} for c in claims
        ]
        frame = pd.DataFrame(rows)
        frame["accident"] = frame["accident"].map({"True": "1", "False": "0", "1": "1", "0": "0"})
        table = with_candidates(from_frame(frame, identities=True), self.periods())
        paid = settle(table, self.policy).payments
        return {c.setl_id: {o: int(paid[o][i]) for o in PAYMENT_COLUMNS} for i, c in enumerate(claims)}

    def differences(self, ledger: list[dict[str, Any]]) -> list[str]:
        """How the books (:func:`api.books.queries.ledger`) differ from the model (empty: not at all)."""
        found = []
        expected = self.expected()
        held = {row["setl_id"]: row for row in ledger if row["kind"] == "settlement"}
        for setl_id, claim in self.claims.items():
            row = held.get(setl_id)
            if row is None:
                found.append(f"acknowledged settlement {setl_id} is not in the books")
                continue
            if (row["status"] == "reversed") != claim.reversed:
                found.append(f"settlement {setl_id}: status {row['status']}, the model says reversed={claim.reversed}")
            want = expected.get(setl_id, dict.fromkeys(PAYMENT_COLUMNS, 0))
            if not claim.reversed:
                got = {o: int(row[o]) for o in PAYMENT_COLUMNS}
                if got != want:
                    found.append(f"settlement {setl_id} ({claim.person}): the funds paid {got}, the model says {want}")
        unknown = sorted(set(held) - set(self.claims))
        found += [f"settlement {s} is in the books but was never acknowledged" for s in unknown]
        reversed_ = [c for c in self.claims.values() if c.reversed]
        reversals = {row["setl_id"]: row for row in ledger if row["kind"] == "reversal"}
        if len(reversals) != len(reversed_):
            found.append(f"{len(reversals)} reversal rows for {len(reversed_)} reversed claims")
        return found
