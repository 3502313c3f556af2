"""Array-ready policy: every claim's terms are one table lookup away.

A claim's *profile* packs what rules can look at — relief category, visit type, hospital level,
one bit per disease list, the accident flag — into one small integer. Compiling a policy
evaluates every rule's ``when`` on every possible profile once (first match wins) and resolves
every parameter version, so the engine finds a claim's rule with one ``take`` and its terms
(deductible, bands, ratios, cap) with a few more. Money in int64 fen, ratios in int64 1/10,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tiers.codes import CATEGORIES, HOSPITAL_LEVELS, MED_TYPES
from tiers.resolve import ResolvedRule, Terms, claim_terms, resolve, version_dates
from tiers.schema import Layer, Policy, When

RATIO_SCALE = 10_000
"""Ratios are exact integers in 1/10,000."""
NO_LIMIT = np.int64(2**62)
"""Stands for "no cap" / "open band end" in fen arrays; far above any real amount."""

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

N_CAT, N_MED, N_LEV = len(CATEGORIES), len(MED_TYPES), len(HOSPITAL_LEVELS)
ADMISSIONS = 2  # first claim of the bucket-year, or a repeat (for repeat_factor)


@dataclass(frozen=True)
class ProfileSpace:
    """How profiles are packed: ``((((cat·M + med)·L + lev)·2^D + lists)·2 + accident``."""

    disease_lists: tuple[str, ...]

    @property
    def size(self) -> int:
        return N_CAT * N_MED * N_LEV * (2 ** len(self.disease_lists)) * 2

    def encode(self, category: I64, med: I64, level: I64, list_bits: I64, accident: I64) -> I64:
        """Pack code arrays (category/med/level as tuple positions; level 0-based) into profiles."""
        code = (category * N_MED + med) * N_LEV + level
        return (code * (2 ** len(self.disease_lists)) + list_bits) * 2 + accident

    def decode(self) -> dict[str, I64]:
        """All profiles' fields, as arrays of length ``size``."""
        p = np.arange(self.size, dtype=np.int64)
        n_bits = 2 ** len(self.disease_lists)
        accident, rest = p % 2, p // 2
        bits, rest = rest % n_bits, rest // n_bits
        level, rest = rest % N_LEV, rest // N_LEV
        med, category = rest % N_MED, rest // N_MED
        return {"category": category, "med": med, "level": level, "bits": bits, "accident": accident}


def when_mask(when: When, fields: dict[str, I64], lists: tuple[str, ...]) -> Bools:
    """Which profiles a ``when`` selects (vectorised over ``fields`` from :meth:`ProfileSpace.decode`)."""
    mask = np.ones(len(fields["category"]), dtype=bool)
    if when.med_type is not None:
        mask &= np.isin(fields["med"], [MED_TYPES.index(m) for m in when.med_type])
    if when.category is not None:
        mask &= np.isin(fields["category"], [CATEGORIES.index(c) for c in when.category])
    if when.hospital_level is not None:
        mask &= np.isin(fields["level"], [lv - 1 for lv in when.hospital_level])
    if when.diagnosis_in is not None:
        mask &= (fields["bits"] >> lists.index(when.diagnosis_in)) % 2 == 1
    if when.diagnosis_not_in is not None:
        mask &= (fields["bits"] >> lists.index(when.diagnosis_not_in)) % 2 == 0
    if when.accident is not None:
        mask &= fields["accident"] == int(when.accident)
    if when.any_of is not None:
        mask &= np.logical_or.reduce([when_mask(w, fields, lists) for w in when.any_of])
    return mask


@dataclass(frozen=True)
class LayerTable:
    """One layer, compiled. Flat index ``t = ((v·R + rule)·C + cat)·L + lev``."""

    id: str
    output: str
    rule_ids: tuple[str, ...]
    buckets: tuple[str, ...]
    rule_of_profile: I64  # [P] rule index or -1
    bucket_of_rule: I64  # [R]
    per_year: Bools  # [R]
    deductible: I64  # [T·A] fen
    band_lo: I64  # [T·A·K] fen
    band_hi: I64  # [T·A·K] fen (NO_LIMIT: open)
    ratio: I64  # [T·K] 1/10,000
    cap: I64  # [T] fen (NO_LIMIT: none)
    n_bands: int

    def flat_index(self, version: I64, rule: I64, category: I64, level: I64) -> I64:
        """Table index of (version, rule, category, level) — all arrays of codes."""
        return ((version * len(self.rule_ids) + rule) * N_CAT + category) * N_LEV + level


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy with every version resolved into lookup tables."""

    policy: Policy
    versions: tuple[date, ...]
    version_days: I64  # days since 1970-01-01 of each version's start
    profiles: ProfileSpace
    layers: tuple[LayerTable, ...]

    @property
    def id(self) -> str:
        return self.policy.id


def _ratio_units(ratio: Decimal) -> int:
    units = ratio * RATIO_SCALE
    assert units == units.to_integral_value(), "validated: ratios have at most four decimals"
    return int(units)


def _terms_grid(rule: ResolvedRule) -> list[list[list[Terms]]]:
    return [
        [[claim_terms(rule, cat, lev, repeat) for repeat in (False, True)] for lev in HOSPITAL_LEVELS]
        for cat in CATEGORIES
    ]


def _fill(table: dict[str, I64], t: int, grid: list[list[list[Terms]]], k_max: int) -> None:
    for c, per_level in enumerate(grid):
        for lv, per_adm in enumerate(per_level):
            flat = (t * N_CAT + c) * N_LEV + lv
            first = per_adm[0]
            table["cap"][flat] = NO_LIMIT if first.cap is None else first.cap
            for k, r in enumerate(first.band_ratio):
                table["ratio"][flat * k_max + k] = _ratio_units(r)
            for a, terms in enumerate(per_adm):
                fa = flat * ADMISSIONS + a
                table["deductible"][fa] = terms.deductible
                for k, (lo, hi) in enumerate(zip(terms.band_lo, terms.band_hi, strict=True)):
                    table["band_lo"][fa * k_max + k] = lo
                    table["band_hi"][fa * k_max + k] = NO_LIMIT if hi is None else hi


def _compile_layer(policy: Policy, layer: Layer, versions: tuple[date, ...], profiles: ProfileSpace) -> LayerTable:
    n_rules = len(layer.rules)
    k_max = max(len(r.band_list()) for r in layer.rules)
    n_t = len(versions) * n_rules * N_CAT * N_LEV
    table = {
        "deductible": np.zeros(n_t * ADMISSIONS, np.int64),
        "band_lo": np.full(n_t * ADMISSIONS * k_max, NO_LIMIT, np.int64),
        "band_hi": np.full(n_t * ADMISSIONS * k_max, NO_LIMIT, np.int64),
        "ratio": np.zeros(n_t * k_max, np.int64),
        "cap": np.full(n_t, NO_LIMIT, np.int64),
    }
    index = policy.layers.index(layer)
    for v, on in enumerate(versions):
        for r, rule in enumerate(resolve(policy, on).layers[index].rules):
            _fill(table, v * n_rules + r, _terms_grid(rule), k_max)
    return LayerTable(
        id=layer.id,
        output=layer.output,
        rule_ids=tuple(r.id for r in layer.rules),
        buckets=layer.buckets(),
        rule_of_profile=_rule_of_profile(layer, profiles),
        bucket_of_rule=np.array([layer.buckets().index(r.bucket) for r in layer.rules], np.int64),
        per_year=np.array([r.deductible is not None and r.deductible.per == "year" for r in layer.rules]),
        n_bands=k_max,
        **table,
    )


def _rule_of_profile(layer: Layer, profiles: ProfileSpace) -> I64:
    fields = profiles.decode()
    rule = np.full(profiles.size, -1, np.int64)
    for r, spec in enumerate(layer.rules):
        rule[(rule < 0) & when_mask(spec.when, fields, profiles.disease_lists)] = r
    return rule


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Resolve every version of ``policy`` into lookup tables (done once per policy)."""
    versions = tuple(version_dates(policy))
    profiles = ProfileSpace(tuple(policy.disease_lists))
    days = np.array([(d - date(1970, 1, 1)).days for d in versions], np.int64)
    layers = tuple(_compile_layer(policy, layer, versions, profiles) for layer in policy.layers)
    return CompiledPolicy(policy, versions, days, profiles, layers)
