"""A policy's parameters in force on a date, as plain rows for people to read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tiers.resolve import ResolvedRule, resolve
from tiers.schema import Policy, When


def _percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def _by_level(values: dict[int, Decimal | None], fmt: str = "yuan") -> str:
    def one(v: Decimal | None) -> str:
        if v is None:
            return "no cap"
        return _percent(v) if fmt == "ratio" else f"{v:,.2f}"

    distinct = set(values.values())
    if len(distinct) == 1:
        return one(next(iter(distinct)))
    return " / ".join(f"L{level} {one(v)}" for level, v in sorted(values.items()))


def describe_when(when: When) -> str:
    """``med_type 21,14; category dibao,fanpin; diagnosis in major``."""
    parts = []
    for field in ("med_type", "category", "hospital_level"):
        values = getattr(when, field)
        if values is not None:
            parts.append(f"{field} {','.join(str(v) for v in values)}")
    if when.diagnosis_in:
        parts.append(f"diagnosis in {when.diagnosis_in}")
    if when.diagnosis_not_in:
        parts.append(f"diagnosis not in {when.diagnosis_not_in}")
    if when.accident is not None:
        parts.append(f"accident {int(when.accident)}")
    if when.any_of:
        parts.append("any of (" + " | ".join(describe_when(w) for w in when.any_of) + ")")
    return "; ".join(parts) or "every claim"


def _bands(rule: ResolvedRule) -> str:
    parts = []
    for start, ratios in zip(rule.band_from, rule.band_ratio, strict=True):
        where = "from deductible" if start == 0 else ("+" if rule.relative_bands else "from ") + f"{start:,.0f}"
        parts.append(f"{where}: {_by_level(dict(ratios), 'ratio')}")
    return "; ".join(parts)


def _tilts(rule: ResolvedRule) -> str:
    return "; ".join(
        f"{','.join(sorted(t.categories))}: deductible ×{t.deductible_factor.normalize():f}, "
        f"ratio {'+' if t.ratio_add >= 0 else ''}{_percent(t.ratio_add)}{', cap lifted' if t.cap_lifted else ''}"
        for t in rule.tilts
    )


def policy_rows(policy: Policy, on: date) -> list[dict[str, str]]:
    """One row per layer rule: who it applies to and the numbers in force on ``on``."""
    resolved = resolve(policy, on)
    rows = []
    for layer, spec in zip(resolved.layers, policy.layers, strict=True):
        for rule, rule_spec in zip(layer.rules, spec.rules, strict=True):
            deductible = _by_level(dict(rule.deductible))
            if rule.repeat_factor is not None:
                deductible += f" (×{rule.repeat_factor.normalize():f} from the 2nd claim)"
            rows.append(
                {
                    "layer": f"{layer.id} → {layer.output}",
                    "rule": rule.id,
                    "applies to": describe_when(rule_spec.when),
                    "bucket": rule.bucket,
                    "deductible": f"{deductible} per {'year' if rule.per_year else 'claim'}",
                    "bands": _bands(rule),
                    "cap": _by_level(dict(rule.cap)),
                    "tilts": _tilts(rule),
                    "version": str(resolved.version),
                }
            )
    return rows
