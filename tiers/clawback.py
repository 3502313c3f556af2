"""What a region does when a re-settlement leaves a person owing money (追回, or not), as a policy declares it.

Revoking an identity after the fact (a fast-track 容缺 approval whose checks failed: Binhai
"立即取消救助，追回申请人已享受的救助资金") or reversing a claim re-settles the person-year; the funds
then paid some claims more than they now should. The region decides, dated and referenced, whether
that money is recovered from the person (``recover``), borne by the funds (``hold_harmless``), or
netted against the person's later payments (``net_against_later``) — as Medicare Part D had to
decide when low-income subsidy periods were ended retroactively::

    clawback:
      - {from: 2024-01-01, mode: recover, reference: 滨海县…容缺审批实施方案}
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from tiers.declarations import Strict

MODES = {
    "recover": "追回: the person repays what the funds paid above what they now should",
    "hold_harmless": "the funds bear it: nothing is asked of the person",
    "net_against_later": "netted against what the funds later owe or pay the person (re-settlements, post-hoc)",
}
Mode = Literal["recover", "hold_harmless", "net_against_later"]


class ClawbackRule(Strict):
    """From a date on, what is done with money a re-settlement leaves the person owing."""

    valid_from: date = Field(alias="from")
    mode: Mode
    reference: str
    assumption: str | None = None


def _one_rule_a_day(rules: tuple[ClawbackRule, ...]) -> tuple[ClawbackRule, ...]:
    days = [r.valid_from for r in rules]
    if len(set(days)) < len(days):
        raise ValueError(f"two rules start on the same day: {sorted(d.isoformat() for d in days)}")
    return rules


Clawback = Annotated[tuple[ClawbackRule, ...], AfterValidator(_one_rule_a_day)]
"""A policy's clawback rules: each from its date until the next."""


def rule_on(rules: tuple[ClawbackRule, ...], day: date) -> ClawbackRule | None:
    """The rule in force on ``day`` (the latest that started by then), or None."""
    started = [r for r in rules if r.valid_from <= day]
    return max(started, key=lambda r: r.valid_from) if started else None
