"""What is left of each cap for a person-year (like NHSA 5206 人员累计信息), from the policy in force.

For every cap bucket of the policy: what the person has used (base, payments, claims) and, per
rule of the bucket that applies to the person's category, the cap and what is left of it (fen;
``None``: no cap). Pure: the accumulators come in, the service and a notebook read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from tiers.codes import CATEGORIES
from tiers.resolve import ResolvedRule, claim_terms
from tiers.schema import Rule
from tiers.tables import CompiledPolicy

Used = Mapping[tuple[str, str], tuple[int, int, int]]
"""A person-year's accumulators: (layer, bucket) → (base_cum, paid_cum, claims), fen."""


@dataclass(frozen=True)
class CapLeft:
    """One cap of a bucket (fen; ``None``: no cap) and what is left of it."""

    rule: str
    cap: int | None
    left: int | None


@dataclass(frozen=True)
class BucketUse:
    """A cap bucket's use in a person-year and its caps."""

    layer: str
    bucket: str
    base_cum: int
    paid_cum: int
    claims: int
    caps: tuple[CapLeft, ...]


def first_category(categories: list[str], order: Sequence[str] = CATEGORIES) -> str:
    """The category shown for a person holding ``categories`` (the first in the policy's ``order``;
    ``general`` for none)."""
    return sorted(categories or ["general"], key=list(order).index)[0]


def _caps(rule: ResolvedRule, category: str, paid: int, tiers: tuple[int, ...]) -> list[CapLeft]:
    caps = {claim_terms(rule, category, level, False).cap for level in tiers}
    return [
        CapLeft(rule.id, cap, None if cap is None else max(cap - paid, 0))
        for cap in sorted(caps, key=lambda c: -1 if c is None else c)
    ]


def _applies(spec: Rule, category: str) -> bool:
    return spec.when.category is None or category in spec.when.category


def caps_left(policy: CompiledPolicy, day: date, category: str, used: Used) -> list[BucketUse]:
    """Every bucket of the policy in force on ``day`` (its first version before it starts), with
    what ``used`` says was used and what is left of each cap for ``category``."""
    resolved = policy.resolved(max(day, policy.versions[0]))
    buckets = []
    for spec, layer in zip(policy.policy.layers, resolved.layers, strict=True):
        for bucket in spec.buckets():
            base, paid, claims = used.get((layer.id, bucket), (0, 0, 0))
            caps = [
                cap
                for rule, rule_spec in zip(layer.rules, spec.rules, strict=True)
                if rule_spec.capped_in == bucket and _applies(rule_spec, category)
                for cap in _caps(rule, category, paid, policy.profiles.tiers)
            ]
            buckets.append(BucketUse(layer.id, bucket, base, paid, claims, tuple(caps)))
    return buckets
