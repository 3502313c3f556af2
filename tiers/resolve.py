"""A policy resolved for one date (``resolve(policy, on)``): plain exact values, no dates left.

:func:`claim_terms` then gives, for one rule, relief category, hospital level and admission
rank, the exact terms a claim is settled on: deductible, bands with ratios, cap — in fen and
exact decimal ratios. Deductibles derived by a factor must land on whole fen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tiers.params import EVERY_TIER, DatedValue, at_tier, change_dates, value_at
from tiers.schema import Layer, Policy, Rule, Tilt

FEN_PER_YUAN = 100


@dataclass(frozen=True)
class ResolvedTilt:
    categories: frozenset[str]
    deductible_factor: Decimal
    ratio_add: Decimal
    cap_lifted: bool


@dataclass(frozen=True)
class ResolvedRule:
    id: str
    bucket: str
    per_year: bool
    relative_bands: bool
    deductible: dict[int, Decimal]  # yuan by hospital level
    repeat_factor: Decimal | None
    band_from: tuple[Decimal, ...]  # yuan; first band's is 0 (starts at the deductible)
    band_ratio: tuple[dict[int, Decimal], ...]
    cap: dict[int, Decimal | None]  # yuan by hospital level; None = no cap
    tilts: tuple[ResolvedTilt, ...]
    claim_cap: dict[int, Decimal | None]  # yuan by hospital level: the most one claim is paid; None = none
    cap_bucket: str = ""  # the bucket the cap counts payments in (the rule's capped_in)

    def tilt_for(self, category: str) -> ResolvedTilt | None:
        return next((t for t in self.tilts if category in t.categories), None)


@dataclass(frozen=True)
class Terms:
    """What one claim is settled on in one rule: fen and exact ratios."""

    deductible: int
    band_lo: tuple[int, ...]
    band_hi: tuple[int | None, ...]  # None: open-ended
    band_ratio: tuple[Decimal, ...]
    cap: int | None
    claim_cap: int | None = None


def _v(values: tuple[DatedValue, ...], on: date) -> Decimal | None:
    return value_at(values, on).value


def _req(values: tuple[DatedValue, ...], on: date) -> Decimal:
    value = _v(values, on)
    assert value is not None, "validated non-null"
    return value


def _resolve_tilt(tilt: Tilt, on: date) -> ResolvedTilt:
    return ResolvedTilt(
        categories=frozenset(tilt.categories),
        deductible_factor=_req(tilt.deductible_factor, on) if tilt.deductible_factor else Decimal(1),
        ratio_add=_req(tilt.ratio_add, on) if tilt.ratio_add else Decimal(0),
        cap_lifted=tilt.cap_lifted,
    )


def _per_level(values: dict[int, tuple[DatedValue, ...]] | None, on: date) -> dict[int, Decimal | None]:
    """An optional amount by level in force on ``on`` (None where absent or null)."""
    return {lv: _v(v, on) for lv, v in values.items()} if values else {EVERY_TIER: None}


def _resolve_rule(rule: Rule, on: date) -> ResolvedRule:
    ded = rule.deductible
    bands = rule.band_list()
    return ResolvedRule(
        id=rule.id,
        bucket=rule.bucket,
        per_year=ded is not None and ded.per == "year",
        relative_bands=rule.band_mode == "relative",
        deductible={lv: _req(v, on) for lv, v in ded.amount.items()} if ded else {EVERY_TIER: Decimal(0)},
        repeat_factor=_req(ded.repeat_factor, on) if ded and ded.repeat_factor else None,
        band_from=tuple(_req(b.from_, on) if b.from_ else Decimal(0) for b in bands),
        band_ratio=tuple({lv: _req(v, on) for lv, v in b.ratio.items()} for b in bands),
        cap={lv: _v(v, on) for lv, v in rule.cap.items()},
        tilts=tuple(_resolve_tilt(t, on) for t in rule.tilts),
        claim_cap=_per_level(rule.claim_cap, on),
        cap_bucket=rule.capped_in,
    )


@dataclass(frozen=True)
class ResolvedLayer:
    id: str
    output: str
    rules: tuple[ResolvedRule, ...]


@dataclass(frozen=True)
class ResolvedPolicy:
    id: str
    version: date  # the date this version came into force
    layers: tuple[ResolvedLayer, ...]


def _resolve_layer(layer: Layer, on: date) -> ResolvedLayer:
    rules = tuple(_resolve_rule(r, on) for r in layer.rules)
    return ResolvedLayer(layer.id, layer.output, rules)


def version_dates(policy: Policy) -> list[date]:
    """Start dates of the policy's parameter versions (the first is ``valid_from``)."""
    dates = {policy.valid_from}
    for layer in policy.layers:
        for rule in layer.rules:
            dates.update(d for d in _rule_dates(rule) if d > policy.valid_from)
    return sorted(dates)


def _rule_dates(rule: Rule) -> list[date]:
    params = [*rule.cap.values()]
    if rule.deductible:
        params += [*rule.deductible.amount.values()]
        params += [rule.deductible.repeat_factor] if rule.deductible.repeat_factor else []
    for band in rule.band_list():
        params += [*band.ratio.values()] + ([band.from_] if band.from_ else [])
    for tilt in rule.tilts:
        params += [p for p in (tilt.deductible_factor, tilt.ratio_add) if p]
    return [d for p in params for d in change_dates(p)]


def resolve(policy: Policy, on: date) -> ResolvedPolicy:
    """The policy's parameters in force on ``on``."""
    if on < policy.valid_from:
        raise LookupError(f"policy {policy.id} is in force from {policy.valid_from}, not on {on}")
    version = max(d for d in version_dates(policy) if d <= on)
    return ResolvedPolicy(policy.id, version, tuple(_resolve_layer(la, on) for la in policy.layers))


def to_fen(yuan: Decimal, what: str) -> int:
    """Exact yuan → fen; refuses anything that is not a whole fen."""
    fen = yuan * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"{what}: {yuan} yuan is not a whole number of fen")
    return int(fen)


def claim_terms(rule: ResolvedRule, category: str, level: int, repeat: bool) -> Terms:
    """Exact terms for a claim of ``category`` at ``level``; ``repeat``: not the first in its bucket-year."""
    tilt = rule.tilt_for(category)
    factor = tilt.deductible_factor if tilt else Decimal(1)
    if repeat and rule.repeat_factor is not None:
        factor *= rule.repeat_factor
    deductible = to_fen(at_tier(rule.deductible, level) * factor, f"rule {rule.id} deductible")
    add = tilt.ratio_add if tilt else Decimal(0)
    ratios = tuple(at_tier(b, level) + add for b in rule.band_ratio)
    bad = [r for r in ratios if not Decimal(0) <= r <= Decimal(1)]
    if bad:
        raise ValueError(f"rule {rule.id}: tilted ratio {bad[0]} for {category} is outside [0, 1]")
    lo = [deductible]
    for start in rule.band_from[1:]:
        fen = to_fen(start, f"rule {rule.id} band")
        lo.append(deductible + fen if rule.relative_bands else max(fen, deductible))
    hi: list[int | None] = [*lo[1:], None]
    cap_yuan = None if tilt and tilt.cap_lifted else at_tier(rule.cap, level)
    cap = None if cap_yuan is None else to_fen(cap_yuan, f"rule {rule.id} cap")
    per_claim = at_tier(rule.claim_cap, level)
    claim_cap = None if per_claim is None else to_fen(per_claim, f"rule {rule.id} claim_cap")
    return Terms(deductible, tuple(lo), tuple(hi), ratios, cap, claim_cap)


def check_every_version(policy: Policy) -> None:
    """Resolve every version and every category/level: bands increase, fen are whole, ratios fit.

    Raises ``ValueError("layers.I.rules.J: reason")``.
    """
    for on in version_dates(policy):
        resolved = resolve(policy, on)
        for i, layer in enumerate(resolved.layers):
            for j, rule in enumerate(layer.rules):
                where = f"layers.{i}.rules.{j}"
                froms = rule.band_from[1:]
                if any(b <= a for a, b in itertools.pairwise(froms)) or any(f <= 0 for f in froms):
                    raise ValueError(f"{where}.bands: band 'from' amounts must increase (in force {on})")
                try:
                    for category in policy.categories():
                        for level in policy.tiers():
                            for repeat in (False, True):
                                claim_terms(rule, category, level, repeat)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc} (in force {on})") from exc
    for k, program in enumerate(policy.post_hoc):
        try:
            check_every_version(policy.model_copy(update={"layers": (program,), "post_hoc": ()}))
        except ValueError as exc:
            raise ValueError(str(exc).replace("layers.0.", f"post_hoc.{k}.", 1)) from exc
