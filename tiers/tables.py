"""Array-ready policy: every claim's terms are one table lookup away.

A claim's *profile* packs what rules can look at — relief category, visit type, hospital level,
one bit per disease list, the accident flag — into one small integer. Compiling a policy
evaluates every rule's ``when`` on every possible profile once (first match wins) and resolves
every parameter version, so the engine finds a claim's rule with one ``take`` and its terms
(deductible, bands, ratios, cap) with a few more. Money in int64 fen, ratios in int64 1/10,000.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property

import numpy as np
import numpy.typing as npt

from tiers.codes import CATEGORIES, CLAIM_FLAGS, HOSPITAL_LEVELS, MED_TYPES
from tiers.declarations import AGE_FLAG
from tiers.resolve import ResolvedPolicy, ResolvedRule, Terms, claim_terms, resolve, version_dates
from tiers.schema import Layer, Policy, When

RATIO_SCALE = 10_000
"""Ratios are exact integers in 1/10,000."""
NO_LIMIT = np.int64(2**62)
"""Stands for "no cap" / "open band end" in fen arrays; far above any real amount."""

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

N_MED = len(MED_TYPES)
ADMISSIONS = 2  # first claim of the bucket-year, or a repeat (for repeat_factor)


@dataclass(frozen=True)
class ProfileSpace:
    """How profiles are packed: ``(((((cat·M + med)·L + lev)·2^D + lists)·2 + accident)·2^F + flags``,
    ``lev`` the position of the claim's hospital tier among the policy's ``tiers``, ``flags`` a bit
    per claim attribute the policy's rules test (``flags``: of :data:`tiers.codes.CLAIM_FLAGS`, then the age
    bands ``age:<band>`` they name)."""

    disease_lists: tuple[str, ...]
    tiers: tuple[int, ...] = HOSPITAL_LEVELS
    categories: tuple[str, ...] = CATEGORIES
    flags: tuple[str, ...] = ()

    @property
    def n_cat(self) -> int:
        return len(self.categories)

    @property
    def n_lev(self) -> int:
        return len(self.tiers)

    @property
    def terms_per_rule(self) -> int:
        """Terms of one rule in one version (a term per category and hospital tier)."""
        return self.n_cat * self.n_lev

    @property
    def size(self) -> int:
        return self.n_cat * N_MED * self.n_lev * (1 << len(self.disease_lists)) * 2 * (1 << len(self.flags))

    def encode(
        self, category: I64, med: I64, level: I64, list_bits: I64, accident: I64, flag_bits: I64 | None = None
    ) -> I64:
        """Pack code arrays (category/med as tuple positions, level as the tier's position, flag bits
        in ``flags`` order; None where the space has no flags) into profiles."""
        code = (category * N_MED + med) * self.n_lev + level
        shifted: I64 = code * (1 << len(self.disease_lists)) + list_bits
        packed: I64 = shifted * 2 + accident
        return packed if flag_bits is None else packed * (1 << len(self.flags)) + flag_bits

    def decode(self) -> dict[str, I64]:
        """All profiles' fields, as arrays of length ``size``."""
        p = np.arange(self.size, dtype=np.int64)
        n_bits, n_flags = 1 << len(self.disease_lists), 1 << len(self.flags)
        flags, rest = p % n_flags, p // n_flags
        accident, rest = rest % 2, rest // 2
        bits, rest = rest % n_bits, rest // n_bits
        level, rest = rest % self.n_lev, rest // self.n_lev
        med, category = rest % N_MED, rest // N_MED
        return {"category": category, "med": med, "level": level, "bits": bits, "accident": accident, "flags": flags}


def when_mask(when: When, fields: dict[str, I64], space: ProfileSpace) -> Bools:
    """Which profiles a ``when`` selects (vectorised over ``fields`` from :meth:`ProfileSpace.decode`)."""
    lists = space.disease_lists
    mask = np.ones(len(fields["category"]), dtype=bool)
    if when.med_type is not None:
        mask &= np.isin(fields["med"], [MED_TYPES.index(m) for m in when.med_type])
    if when.category is not None:
        mask &= np.isin(fields["category"], [space.categories.index(c) for c in when.category])
    if when.hospital_level is not None:
        mask &= np.isin(fields["level"], [space.tiers.index(lv) for lv in when.hospital_level])
    if when.diagnosis_in is not None:
        mask &= (fields["bits"] >> lists.index(when.diagnosis_in)) % 2 == 1
    if when.diagnosis_not_in is not None:
        mask &= (fields["bits"] >> lists.index(when.diagnosis_not_in)) % 2 == 0
    if when.accident is not None:
        mask &= fields["accident"] == int(when.accident)
    for flag in (f for f in space.flags if f in CLAIM_FLAGS):
        if getattr(when, flag) is not None:
            mask &= (fields["flags"] >> space.flags.index(flag)) % 2 == int(getattr(when, flag))
    if when.age_band is not None:  # in any of the bands named
        bits = [(fields["flags"] >> space.flags.index(AGE_FLAG + band)) % 2 == 1 for band in when.age_band]
        mask &= np.logical_or.reduce(bits)
    if when.any_of is not None:
        mask &= np.logical_or.reduce([when_mask(w, fields, space) for w in when.any_of])
    return mask


@dataclass(frozen=True, eq=False)  # identity semantics: hashable, usable as a weak cache key
class LayerTable:
    """One layer, compiled. Term index ``t = ((v·R + rule)·C + cat)·L + lev``.

    Lookups are by *dated profile* ``v·P + profile`` (version and profile of a claim).
    """

    id: str
    output: str
    rule_ids: tuple[str, ...]
    terms_per_rule: int  # a term per category and hospital tier
    buckets: tuple[str, ...]
    term_of_profile: I64  # [V·P] term index, or -1 where no rule matches
    bucket_of_profile: I64  # [V·P] bucket index, or -1
    cap_bucket_of_profile: I64  # [V·P] the bucket index the cap counts against (its rule's capped_in), or -1
    per_year: Bools  # [T] deductible per year: the base cumulates over the bucket-year
    has_repeat: bool  # some rule lowers the deductible from the 2nd claim of a bucket-year
    deductible: I64  # [T·A] fen
    band_lo: I64  # [K, T·A] fen, row k for band k
    band_width: I64  # [K, T·A] fen (NO_LIMIT: open-ended)
    ratio: I64  # [K, T] 1/10,000
    cap: I64  # [T] fen (NO_LIMIT: none)
    claim_cap: I64  # [T] fen: the most one claim is paid (NO_LIMIT: none)

    @property
    def n_bands(self) -> int:
        return len(self.ratio)

    def rule_of_term(self, term: I64) -> I64:
        """Rule index of term indices."""
        return (term // self.terms_per_rule) % len(self.rule_ids)

    def version_of_term(self, term: I64) -> I64:
        """Version index of term indices."""
        return term // (len(self.rule_ids) * self.terms_per_rule)


@dataclass(frozen=True)
class LayerStack:
    """Every layer's tables side by side, for the engine's one pass over all layers.

    Row ``l`` of the ``[L, V·P]`` lookups is layer ``l``; a term of layer ``l`` is found at
    ``term_offset[l] + t`` in the stacked term arrays; buckets are numbered across layers in
    layer order (the accumulators' bucket codes). Layers with fewer bands are padded with empty
    bands (no width, ratio 0) up to the most any layer has; ``n_bands`` says how many are real.
    """

    buckets: tuple[tuple[str, str], ...]  # (layer id, bucket) of each bucket code
    term_of_profile: I64  # [L, V·P] term index within the layer, or -1
    bucket_of_profile: I64  # [L, V·P] bucket code, or -1
    cap_bucket_of_profile: I64  # [L, V·P] the bucket code the cap counts against, or -1
    term_offset: I64  # [L]
    bucket_offset: I64  # [L + 1]: layer l's buckets are codes bucket_offset[l] .. bucket_offset[l+1]-1
    has_repeat: Bools  # [L]
    n_bands: I64  # [L]
    per_year: Bools  # [T]
    deductible: I64  # [T·A]
    band_lo: I64  # [K, T·A]
    band_width: I64  # [K, T·A]
    ratio: I64  # [K, T]
    cap: I64  # [T]
    claim_cap: I64  # [T]

    @classmethod
    def of(cls, layers: tuple[LayerTable, ...]) -> LayerStack:
        k_max = max(la.n_bands for la in layers)
        terms = np.cumsum([0, *(len(la.cap) for la in layers)])
        codes = np.cumsum([0, *(len(la.buckets) for la in layers)])
        coded = [_coded(la.bucket_of_profile, int(c)) for la, c in zip(layers, codes[:-1], strict=True)]
        return cls(
            buckets=tuple((la.id, bucket) for la in layers for bucket in la.buckets),
            term_of_profile=np.vstack([la.term_of_profile for la in layers]),
            bucket_of_profile=np.vstack(coded),
            cap_bucket_of_profile=np.vstack(
                [_coded(la.cap_bucket_of_profile, int(c)) for la, c in zip(layers, codes[:-1], strict=True)]
            ),
            term_offset=terms[:-1].astype(np.int64),
            bucket_offset=codes.astype(np.int64),
            has_repeat=np.array([la.has_repeat for la in layers], bool),
            n_bands=np.array([la.n_bands for la in layers], np.int64),
            per_year=np.concatenate([la.per_year for la in layers]),
            deductible=np.concatenate([la.deductible for la in layers]),
            band_lo=np.hstack([_padded(la.band_lo, k_max, NO_LIMIT) for la in layers]),
            band_width=np.hstack([_padded(la.band_width, k_max, 0) for la in layers]),
            ratio=np.hstack([_padded(la.ratio, k_max, 0) for la in layers]),
            cap=np.concatenate([la.cap for la in layers]),
            claim_cap=np.concatenate([la.claim_cap for la in layers]),
        )


def _coded(bucket: I64, first_code: int) -> I64:
    """A layer's bucket indices as bucket codes (-1 stays -1)."""
    return np.where(bucket >= 0, bucket + first_code, -1).astype(np.int64)


def _padded(rows: I64, k_max: int, fill: int | np.int64) -> I64:
    """``rows`` with empty bands appended up to ``k_max`` rows."""
    pad = np.full((k_max - len(rows), rows.shape[1]), fill, np.int64)
    return np.vstack([rows, pad])


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

    def layer_table(self, layer_id: str) -> LayerTable:
        """The compiled layer with this id."""
        return next(la for la in self.layers if la.id == layer_id)

    @cached_property
    def settles_as(self) -> dict[str, str]:
        """The policy's visit types → the engine's visit type each settles as (built once)."""
        return self.policy.settles_as()

    @cached_property
    def outputs(self) -> tuple[str, ...]:
        """The payment columns of the output contract (:meth:`tiers.schema.Policy.outputs`)."""
        return self.policy.outputs()

    @cached_property
    def period_starts(self) -> tuple[tuple[int, int], ...]:
        """(month, day) each layer's accumulation period starts on (``(1, 1)``: the calendar year)."""
        return tuple(layer.period_start for layer in self.policy.layers)

    @cached_property
    def period_start_of(self) -> dict[str, tuple[int, int]]:
        """:attr:`period_starts` by layer id."""
        return {layer.id: layer.period_start for layer in self.policy.layers}

    @cached_property
    def stack(self) -> LayerStack:
        """The layers' tables side by side (built once, on first use)."""
        return LayerStack.of(self.layers)

    @cached_property
    def _resolved_versions(self) -> tuple[ResolvedPolicy, ...]:
        return tuple(resolve(self.policy, on) for on in self.versions)

    def resolved(self, on: date) -> ResolvedPolicy:
        """The parameters in force on ``on``, as :func:`tiers.resolve.resolve` gives them, each
        version resolved once (LookupError before the policy's first day)."""
        if on < self.versions[0]:
            return resolve(self.policy, on)
        return self._resolved_versions[bisect_right(self.versions, on) - 1]


def _ratio_units(ratio: Decimal) -> int:
    units = ratio * RATIO_SCALE
    assert units == units.to_integral_value(), "validated: ratios have at most four decimals"
    return int(units)


def _terms_grid(rule: ResolvedRule, space: ProfileSpace) -> list[list[list[Terms]]]:
    return [
        [[claim_terms(rule, cat, lev, repeat) for repeat in (False, True)] for lev in space.tiers]
        for cat in space.categories
    ]


def _fill(table: dict[str, I64], t: int, grid: list[list[list[Terms]]], k_max: int) -> None:
    n_cat, n_lev = len(grid), len(grid[0])
    for c, per_level in enumerate(grid):
        for lv, per_adm in enumerate(per_level):
            flat = (t * n_cat + c) * n_lev + lv
            first = per_adm[0]
            table["cap"][flat] = NO_LIMIT if first.cap is None else first.cap
            table["claim_cap"][flat] = NO_LIMIT if first.claim_cap is None else first.claim_cap
            for k, r in enumerate(first.band_ratio):
                table["ratio"][k, flat] = _ratio_units(r)
            for a, terms in enumerate(per_adm):
                fa = flat * ADMISSIONS + a
                table["deductible"][fa] = terms.deductible
                for k, (lo, hi) in enumerate(zip(terms.band_lo, terms.band_hi, strict=True)):
                    table["band_lo"][k, fa] = lo
                    table["band_width"][k, fa] = NO_LIMIT if hi is None else hi - lo


def _compile_layer(policy: Policy, layer: Layer, versions: tuple[date, ...], profiles: ProfileSpace) -> LayerTable:
    n_rules = len(layer.rules)
    k_max = max(len(r.band_list()) for r in layer.rules)
    n_t = len(versions) * n_rules * profiles.terms_per_rule
    table = {
        "deductible": np.zeros(n_t * ADMISSIONS, np.int64),
        "band_lo": np.full((k_max, n_t * ADMISSIONS), NO_LIMIT, np.int64),
        "band_width": np.zeros((k_max, n_t * ADMISSIONS), np.int64),
        "ratio": np.zeros((k_max, n_t), np.int64),
        "cap": np.full(n_t, NO_LIMIT, np.int64),
        "claim_cap": np.full(n_t, NO_LIMIT, np.int64),
    }
    index = policy.layers.index(layer)
    for v, on in enumerate(versions):
        for r, rule in enumerate(resolve(policy, on).layers[index].rules):
            _fill(table, v * n_rules + r, _terms_grid(rule, profiles), k_max)
    rule_index = _rule_of_profile(layer, profiles)
    fields = profiles.decode()
    within = (rule_index * profiles.n_cat + fields["category"]) * profiles.n_lev + fields["level"]
    stride = n_rules * profiles.terms_per_rule
    term = np.concatenate([np.where(rule_index >= 0, v * stride + within, -1) for v in range(len(versions))])
    bucket_of_rule = np.array([layer.buckets().index(r.bucket) for r in layer.rules], np.int64)
    bucket = np.where(rule_index >= 0, bucket_of_rule[np.maximum(rule_index, 0)], -1)
    cap_of_rule = np.array([layer.buckets().index(r.capped_in) for r in layer.rules], np.int64)
    cap_bucket = np.where(rule_index >= 0, cap_of_rule[np.maximum(rule_index, 0)], -1)
    per_year_rule = np.array([r.deductible is not None and r.deductible.per == "year" for r in layer.rules])
    return LayerTable(
        id=layer.id,
        output=layer.output,
        rule_ids=tuple(r.id for r in layer.rules),
        terms_per_rule=profiles.terms_per_rule,
        buckets=layer.buckets(),
        term_of_profile=term.astype(np.int64),
        bucket_of_profile=np.tile(bucket, len(versions)).astype(np.int64),
        cap_bucket_of_profile=np.tile(cap_bucket, len(versions)).astype(np.int64),
        per_year=np.tile(np.repeat(per_year_rule, profiles.terms_per_rule), len(versions)),
        has_repeat=any(r.deductible is not None and r.deductible.repeat_factor for r in layer.rules),
        deductible=table["deductible"],
        band_lo=table["band_lo"],
        band_width=table["band_width"],
        ratio=table["ratio"],
        cap=table["cap"],
        claim_cap=table["claim_cap"],
    )


def _rule_of_profile(layer: Layer, profiles: ProfileSpace) -> I64:
    fields = profiles.decode()
    rule = np.full(profiles.size, -1, np.int64)
    for r, spec in enumerate(layer.rules):
        rule[(rule < 0) & when_mask(spec.when, fields, profiles)] = r
    return rule


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Resolve every version of ``policy`` into lookup tables (done once per policy)."""
    versions = tuple(version_dates(policy))
    profiles = ProfileSpace(tuple(policy.disease_lists), policy.tiers(), policy.categories(), policy.flags())
    days = np.array([(d - date(1970, 1, 1)).days for d in versions], np.int64)
    layers = tuple(_compile_layer(policy, layer, versions, profiles) for layer in policy.layers)
    return CompiledPolicy(policy, versions, days, profiles, layers)
