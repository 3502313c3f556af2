"""A policy's parameters in force on a date, as plain rows for people to read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from tiers.codes import CLAIM_FLAGS
from tiers.params import key_path
from tiers.resolve import ResolvedRule, resolve
from tiers.schema import Layer, Policy, When


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
    for flag in ("accident", *CLAIM_FLAGS):
        if getattr(when, flag) is not None:
            parts.append(f"{flag} {int(getattr(when, flag))}")
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
    """One row per rule of every layer and post-hoc program: who it applies to and the numbers in
    force on ``on``."""
    resolved = resolve(policy, on)
    rows = [_row(layer.id, layer.output, rule, spec.when, resolved.version) | {"period": _period(layer_spec)}
            for layer, layer_spec in zip(resolved.layers, policy.layers, strict=True)
            for rule, spec in zip(layer.rules, layer_spec.rules, strict=True)]  # fmt: skip
    for program in policy.post_hoc:  # resolved as a policy of that one layer, as the engine settles it
        (alone,) = resolve(policy.model_copy(update={"layers": (program,), "post_hoc": ()}), on).layers
        base = " + ".join([program.base.replace("_", " "), *program.adds])
        label = f"{program.id} (post-hoc, base: {base})"
        rows += [_row(label, program.output, rule, spec.when, resolved.version) | {"period": ""}
                 for rule, spec in zip(alone.rules, program.rules, strict=True)]  # fmt: skip
    return rows


def _period(layer: Layer) -> str:
    """What the layer's deductibles, bands and caps accumulate over, where it is not the calendar
    year ("": the calendar year)."""
    return f"a year from {layer.own_year.starts} (known by the year it starts in)" if layer.own_year else ""


def _row(layer: str, output: str, rule: ResolvedRule, when: When, version: date) -> dict[str, str]:
    deductible = _by_level(dict(rule.deductible))
    if rule.repeat_factor is not None:
        deductible += f" (×{rule.repeat_factor.normalize():f} from the 2nd claim)"
    return {
        "layer": f"{layer} → {output}",
        "rule": rule.id,
        "applies to": describe_when(when),
        "bucket": rule.bucket,
        "deductible": f"{deductible} per {'year' if rule.per_year else 'claim'}",
        "bands": _bands(rule),
        "cap": _by_level(dict(rule.cap)),
        "per claim": _by_level(dict(rule.claim_cap)) if any(rule.claim_cap.values()) else "",
        "tilts": _tilts(rule),
        "version": str(version),
    }


def assumptions(policy: Policy) -> list[tuple[str, str]]:
    """Every interpretation the policy file makes, with its key path: the policy's own
    ``assumptions`` and every ``assumption`` of a rule, tilt, parameter, layer or list.

    >>> from tiers.loader import load_policy
    >>> [path for path, text in assumptions(load_policy("beijing")) if text.startswith("mapping 城乡低收入")]
    ['layers.1.rules.0.tilts.0']
    """
    found: list[tuple[str, str]] = []
    _collect(policy, (), found)
    return found


def _collect(node: object, path: tuple[str, ...], found: list[tuple[str, str]]) -> None:
    if isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            value = getattr(node, name)
            key = (*path, field.alias or name)
            if name == "assumption" and isinstance(value, str):
                found.append((".".join(path), value))
            elif name == "assumptions" and isinstance(value, tuple):
                found.extend((".".join(key), text) for text in value)
            else:
                _collect(value, key, found)
    elif isinstance(node, tuple | list):
        for i, item in enumerate(node):
            _collect(item, (*path, str(i)), found)
    elif isinstance(node, dict):
        for k, item in node.items():
            _collect(item, (*path, *key_path(k)), found)


COMPARED = ("applies to", "bucket", "deductible", "bands", "cap", "per claim", "tilts", "period")
"""The fields of :func:`policy_rows` that :func:`policy_diff` compares."""


def policy_diff(before: Policy, after: Policy, on_before: date, on_after: date) -> list[dict[str, str]]:
    """What changes from ``before`` in force on ``on_before`` to ``after`` in force on ``on_after``:
    one row per (layer, rule, field) that differs, rules added or removed, assumptions added or
    dropped. Two dates of one policy show a new year's parameters; two policies show a reform."""
    old = {(r["layer"], r["rule"]): r for r in policy_rows(before, on_before)}
    new = {(r["layer"], r["rule"]): r for r in policy_rows(after, on_after)}
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key not in new or key not in old:
            kept = old.get(key) or new[key]
            what = "rule removed" if key in old else "rule added"
            before_text, after_text = (kept["applies to"], "") if key in old else ("", kept["applies to"])
            changes.append(_change(key, what, before_text, after_text))
            continue
        changes += [_change(key, f, old[key][f], new[key][f]) for f in COMPARED if old[key][f] != new[key][f]]
    return changes + _assumption_changes(before, after)


def _change(key: tuple[str, str], field: str, before: str, after: str) -> dict[str, str]:
    return {"layer": key[0], "rule": key[1], "field": field, "before": before, "after": after}


def _assumption_changes(before: Policy, after: Policy) -> list[dict[str, str]]:
    old, new = set(assumptions(before)), set(assumptions(after))
    dropped = [_change(("", path), "assumption dropped", text, "") for path, text in sorted(old - new)]
    return dropped + [_change(("", path), "assumption added", "", text) for path, text in sorted(new - old)]
