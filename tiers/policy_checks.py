"""Checks of a whole policy that no single element can make: every by-tier value names exactly the
policy's hospital tiers, every relief category named is one the policy has, every disease list and
age band a rule's ``when`` names is declared."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiers.codes import CATEGORIES
from tiers.params import EVERY_TIER

if TYPE_CHECKING:
    from tiers.schema import Policy, Rule, When


def _when_levels(when: When) -> set[int]:
    found = set(when.hospital_level or ())
    for sub in when.any_of or ():
        found |= _when_levels(sub)
    return found


def _rule_level_keys(rule: Rule, where: str) -> list[tuple[str, set[int]]]:
    """(key path, keys) of every by-tier value of a rule, and of the tiers its ``when`` names."""
    found = [(f"{where}.cap", set(rule.cap))]
    if rule.deductible is not None:
        found.append((f"{where}.deductible.amount", set(rule.deductible.amount)))
    if rule.ratio is not None:
        found.append((f"{where}.ratio", set(rule.ratio)))
    found += [(f"{where}.bands.{k}.ratio", set(band.ratio)) for k, band in enumerate(rule.bands or ())]
    if rule.claim_cap is not None:
        found.append((f"{where}.claim_cap", set(rule.claim_cap)))
    return found


def tier_problems(policy: Policy) -> list[str]:
    """Every by-tier value that does not name exactly the policy's tiers, and every ``when`` naming
    a tier the policy lacks (layers and post-hoc programs), with its key path."""
    tiers, problems = set(policy.tiers()), []
    for name, layers in (("layers", policy.layers), ("post_hoc", policy.post_hoc)):
        for i, layer in enumerate(layers):
            for j, rule in enumerate(layer.rules):
                where = f"{name}.{i}.rules.{j}"
                problems += [
                    f"{path}: 'by_level' needs exactly the hospital tiers {sorted(tiers)}"
                    for path, keys in _rule_level_keys(rule, where)
                    if keys != {EVERY_TIER} and keys != tiers
                ]
                unknown = _when_levels(rule.when) - tiers
                if unknown:
                    problems.append(f"{where}.when.hospital_level: unknown hospital tier(s) {sorted(unknown)}")
    return problems


def _when_categories(when: When) -> set[str]:
    found = set(when.category or ())
    for sub in when.any_of or ():
        found |= _when_categories(sub)
    return found


def category_problems(policy: Policy) -> list[str]:
    """Every relief category named that the policy does not have, with its key path."""
    known = set(policy.categories())
    named = [("category_names", set(policy.category_names))]
    if policy.identity_codes:
        named.append(("identity_codes.codes", set(policy.identity_codes.codes.values())))
    if policy.early_warning:
        watch = policy.early_warning
        named += [(f"early_warning.groups.{i}.categories", set(g.categories or ())) for i, g in enumerate(watch.groups)]
        named.append(("early_warning.grantable", set(watch.grantable)))
    for name, layers in (("layers", policy.layers), ("post_hoc", policy.post_hoc)):
        for i, layer in enumerate(layers):
            for j, rule in enumerate(layer.rules):
                named.append((f"{name}.{i}.rules.{j}.when.category", _when_categories(rule.when)))
                named += [(f"{name}.{i}.rules.{j}.tilts.{k}", set(t.categories)) for k, t in enumerate(rule.tilts)]
    own = [
        (f"relief_categories.{c}", "a national category's code") for c in policy.relief_categories if c in CATEGORIES
    ]
    return [f"{where}: {what} is not a category of its own" for where, what in own] + [
        f"{where}: unknown relief category {sorted(codes - known)} (the policy's: {', '.join(sorted(known))})"
        for where, codes in named
        if codes - known
    ]


def _when_names(when: When) -> tuple[set[str], set[str]]:
    """The disease lists and age bands a ``when`` names, ``any_of`` included."""
    ages = set(when.age_band or ())
    for sub in when.any_of or ():
        ages |= _when_names(sub)[1]
    return when.disease_lists(), ages


def when_problems(policy: Policy) -> list[str]:
    """Every rule whose ``when`` names a disease list or an age band the policy does not declare."""
    problems = []
    for kind, layers in (("layers", policy.layers), ("post_hoc", policy.post_hoc)):
        for i, layer in enumerate(layers):
            for j, rule in enumerate(layer.rules):
                lists, ages = _when_names(rule.when)
                lists, ages = lists - set(policy.disease_lists), ages - set(policy.age_bands)
                where = f"{kind}.{i}.rules.{j}.when"
                if lists:
                    problems.append(f"{where}: unknown disease list(s) {sorted(lists)}")
                if ages:
                    problems.append(f"{where}.age_band: unknown age band(s) {sorted(ages)} (declared: "
                                    f"{sorted(policy.age_bands)})")  # fmt: skip
    return problems
