"""The slow, obviously correct reference: one claim at a time, in ``Decimal`` yuan.

It reads the policy through :func:`tiers.resolve.resolve` (parameters in force on the claim's
date) but derives every deductible, band, ratio and cap itself, keeps its accumulators in a
plain dict keyed by (person, period, layer, bucket) — a layer's period is the year its
accumulation period (calendar, or from the day its ``period`` starts) began in — and settles claims
in (settle_date, claim_id) order — or, where the claims carry an ``arrival`` number, each
person-year's claims in (arrival, claim_id) order (each person's, where a layer's period is not
the calendar year). A claim with a list
of ``categories`` (a person holding several identities) is settled under each on a copy of the
accumulators and the one the funds pay most on is kept (the first among equals, in
``tiers.codes.CATEGORIES`` order). The engine must agree with it to the fen on any batch
(tests/settlement/test_properties.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tiers.codes import CLAIM_FLAGS
from tiers.declarations import AgeBand
from tiers.resolve import ResolvedRule, resolve
from tiers.schema import Policy, When

CENT = Decimal("0.01")


@dataclass
class Acc:
    base: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    claims: int = 0


def _age(claim: dict[str, Any]) -> int | None:
    """The person's age in whole years on the claim's day (None: no birth date given)."""
    if not claim.get("birth_date"):
        return None
    born, on = date.fromisoformat(str(claim["birth_date"])), date.fromisoformat(str(claim["dated"]))
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _in_band(claim: dict[str, Any], band: AgeBand) -> bool:
    age = _age(claim)
    return age is not None and band.from_age <= age and (band.to_age is None or age <= band.to_age)


def _matches(when: When, claim: dict[str, Any], lists: dict[str, tuple[str, ...]], bands: dict[str, AgeBand]) -> bool:
    def in_list(name: str) -> bool:
        return any(str(claim["diagnosis"]).startswith(p) for p in lists[name])

    checks = [
        when.med_type is None or claim["med_type"] in when.med_type,
        when.category is None or claim["category"] in when.category,
        when.hospital_level is None or int(claim["hospital_level"]) in when.hospital_level,
        when.diagnosis_in is None or in_list(when.diagnosis_in),
        when.diagnosis_not_in is None or not in_list(when.diagnosis_not_in),
        when.accident is None or bool(int(claim["accident"])) == when.accident,
        *(getattr(when, f) is None or bool(int(claim.get(f, 0))) == getattr(when, f) for f in CLAIM_FLAGS),
        when.age_band is None or any(_in_band(claim, bands[b]) for b in when.age_band),
        when.any_of is None or any(_matches(w, claim, lists, bands) for w in when.any_of),
    ]
    return all(checks)


def _overlap(lo: Decimal, hi: Decimal | None, a: Decimal, b: Decimal) -> Decimal:
    top = b if hi is None else min(b, hi)
    return max(top - max(a, lo), Decimal(0))


def _tier(values: dict[int, Any], level: int) -> Any:
    """A by-tier value: the tier's own, or the one given for every tier (key 0)."""
    return values[level] if level in values else values[0]


def _layer_payment(rule: ResolvedRule, claim: dict[str, Any], acc: Acc, base: Decimal, paid_before: Decimal) -> Decimal:
    """The rule's payment on ``base``: deductible and bands on ``acc`` (its bucket), the annual cap on
    ``paid_before`` (what its cap bucket has paid)."""
    level, category = int(claim["hospital_level"]), claim["category"]
    tilt = rule.tilt_for(category)
    deductible = _tier(rule.deductible, level) * (tilt.deductible_factor if tilt else 1)
    if rule.repeat_factor is not None and acc.claims > 0:
        deductible *= rule.repeat_factor
    add = tilt.ratio_add if tilt else Decimal(0)
    starts = [deductible] + [deductible + f if rule.relative_bands else max(f, deductible) for f in rule.band_from[1:]]
    ends: list[Decimal | None] = [*starts[1:], None]
    c0, c1 = (acc.base, acc.base + base) if rule.per_year else (Decimal(0), base)
    exact = sum(
        (_tier(ratios, level) + add) * _overlap(lo, hi, c0, c1)
        for lo, hi, ratios in zip(starts, ends, rule.band_ratio, strict=True)
    )
    raw = Decimal(exact).quantize(CENT, rounding=ROUND_HALF_UP)
    cap = None if tilt and tilt.cap_lifted else _tier(rule.cap, level)
    capped = raw if cap is None else min(raw, max(cap - paid_before, Decimal(0)))
    per_claim = _tier(rule.claim_cap, level)  # 单次限额: never lifted by a tilt
    return capped if per_claim is None else min(capped, per_claim)


def _dated(claim: dict[str, Any], policy: Policy) -> str:
    """The day the claim is dated by: its admission where the policy says so and the claim has one."""
    admitted = str(claim.get("admission_date") or "")
    return admitted if policy.dated_by == "admission" and admitted else str(claim["settle_date"])


def _period(on: date, starts: tuple[int, int]) -> int:
    """The year the accumulation period (starting each year on ``starts``) holding ``on`` began in."""
    return on.year if (on.month, on.day) >= starts else on.year - 1


def _order(claim: dict[str, Any], policy: Policy) -> tuple[Any, ...]:
    """Date order; with arrival numbers, arrival order within the person-year — or, where a
    layer's period is not the calendar year (periods overlap years), within the person."""
    if "arrival" in claim:
        calendar = all(layer.period_start == (1, 1) for layer in policy.layers)
        year = str(claim["dated"])[:4] if calendar else ""
        return (str(claim["person_id"]), year, int(claim["arrival"]), str(claim["claim_id"]))
    return (str(claim["dated"]), str(claim["claim_id"]))


def _settle_one(
    claim: dict[str, Any], policy: Policy, accs: dict[tuple[str, int, str, str], Acc], lists: dict[str, tuple[str, ...]]
) -> dict[str, Decimal]:
    """One claim under ``claim["category"]``: its amounts; ``accs`` updated. Its visit type is
    matched as what the policy says it settles as (13 急诊留观 as 21, where a policy says so)."""
    claim = {**claim, "med_type": policy.settles_as()[str(claim["med_type"])], "dated": _dated(claim, policy)}
    on = date.fromisoformat(_dated(claim, policy))
    total = claim["medfee_sumamt"]
    inscp = total - claim["fulamt_ownpay_amt"] - claim["overlmt_selfpay"] - claim["preselfpay_amt"]
    row = {"inscp_scp_amt": inscp, "act_pay_dedc": Decimal("0.00")}
    residual = inscp
    for layer, declared in zip(resolve(policy, on).layers, policy.layers, strict=True):
        bands = policy.age_bands
        period = _period(on, declared.period_start)
        rule = next((r for r in layer.rules if _matches(_when(policy, layer.id, r.id), claim, lists, bands)), None)
        pay = Decimal("0.00")
        if rule is not None:
            acc = accs[(claim["person_id"], period, layer.id, rule.bucket)]
            capped_in = accs[(claim["person_id"], period, layer.id, rule.cap_bucket or rule.bucket)]
            pay = _layer_payment(rule, claim, acc, residual, capped_in.paid)
            if layer.output == "hifp_pay":
                row["act_pay_dedc"] = _deductible_applied(rule, claim, acc, residual)
            acc.base += residual
            capped_in.paid += pay
            acc.claims += 1
        row[layer.output] = pay
        residual -= pay
    for column in policy.outputs():
        row.setdefault(column, Decimal("0.00"))
    row["fund_pay_sumamt"] = sum((row[column] for column in policy.outputs()), Decimal("0.00"))
    row["psn_part_amt"] = total - row["fund_pay_sumamt"]
    return row


def _copy(accs: dict[tuple[str, int, str, str], Acc]) -> dict[tuple[str, int, str, str], Acc]:
    copied: dict[tuple[str, int, str, str], Acc] = defaultdict(Acc)
    copied.update({key: Acc(a.base, a.paid, a.claims) for key, a in accs.items()})
    return copied


def settle_reference(
    claims: list[dict[str, Any]], policy: Policy, opening: dict[tuple[str, int, str, str], Acc] | None = None
) -> tuple[dict[str, dict[str, Decimal]], dict[tuple[str, int, str, str], Acc]]:
    """Settle ``claims`` (dicts with the claim contract's fields, amounts as Decimal yuan; a
    ``categories`` list instead of ``category`` for several candidates; ``arrival`` optional).

    Returns per claim_id the layer payments, act_pay_dedc, inscp, fund and personal totals and the
    ``category`` used, and the closing accumulators keyed by (person_id, period, layer_id, bucket).
    """
    lists = {name: dl.icd10_prefixes for name, dl in policy.disease_lists.items()}
    accs = _copy(opening or {})
    out: dict[str, dict[str, Any]] = {}
    for claim in sorted(({**c, "dated": _dated(c, policy)} for c in claims), key=lambda c: _order(c, policy)):
        candidates = claim.get("categories", [claim.get("category")])
        if len(candidates) == 1:  # nothing to choose: settle on the accumulators themselves
            row = _settle_one({**claim, "category": candidates[0]}, policy, accs, lists)
            out[str(claim["claim_id"])] = {**row, "category": candidates[0]}
            continue
        best: tuple[dict[str, Any], dict[tuple[str, int, str, str], Acc]] | None = None
        for category in candidates:
            trial = _copy(accs)
            row = {**_settle_one({**claim, "category": category}, policy, trial, lists), "category": category}
            if best is None or row["fund_pay_sumamt"] > best[0]["fund_pay_sumamt"]:
                best = (row, trial)
        assert best is not None
        out[str(claim["claim_id"])], accs = best
    return out, dict(accs)


def _deductible_applied(rule: ResolvedRule, claim: dict[str, Any], acc: Acc, base: Decimal) -> Decimal:
    level, tilt = int(claim["hospital_level"]), rule.tilt_for(claim["category"])
    deductible: Decimal = _tier(rule.deductible, level) * (tilt.deductible_factor if tilt else 1)
    if rule.repeat_factor is not None and acc.claims > 0:
        deductible *= rule.repeat_factor
    if rule.per_year:
        return min(acc.base + base, deductible) - min(acc.base, deductible)
    return min(base, deductible)


def _when(policy: Policy, layer_id: str, rule_id: str) -> When:
    layer = next(la for la in policy.layers if la.id == layer_id)
    return next(r.when for r in layer.rules if r.id == rule_id)
