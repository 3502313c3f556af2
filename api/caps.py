"""What is left of each cap for a person-year (like NHSA 5206), from the policy in force on a date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from api.schemas import AccumulatorsOut, BucketOut, CapOut
from tiers.codes import CATEGORIES, HOSPITAL_LEVELS
from tiers.resolve import claim_terms
from tiers.tables import CompiledPolicy


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def caps_left(
    policy: CompiledPolicy,
    person_id: str,
    year: int,
    day: date,
    categories: list[str],
    rows: dict[tuple[str, str], tuple[int, int, int]],
) -> AccumulatorsOut:
    category = sorted(categories or ["general"], key=CATEGORIES.index)[0]
    resolved = policy.resolved(max(day, policy.versions[0]))
    buckets = []
    for spec, layer in zip(policy.policy.layers, resolved.layers, strict=True):
        for bucket in spec.buckets():
            base, paid, claims = rows.get((layer.id, bucket), (0, 0, 0))
            caps = []
            for rule, rule_spec in zip(layer.rules, spec.rules, strict=True):
                allowed = rule_spec.when.category
                if rule.bucket != bucket or (allowed is not None and category not in allowed):
                    continue
                for cap in sorted(
                    {claim_terms(rule, category, lv, False).cap for lv in HOSPITAL_LEVELS}, key=lambda c: c or -1
                ):
                    left = None if cap is None else max(cap - paid, 0)
                    caps.append(
                        CapOut(
                            rule=rule.id,
                            cap=None if cap is None else _yuan(cap),
                            cap_left=None if left is None else _yuan(left),
                        )
                    )
            buckets.append(
                BucketOut(
                    layer=layer.id,
                    bucket=bucket,
                    base_cum=_yuan(base),
                    paid_cum=_yuan(paid),
                    claims=claims,
                    caps=caps,
                )
            )
    return AccumulatorsOut(person_id=person_id, year=year, category=category, buckets=buckets)
