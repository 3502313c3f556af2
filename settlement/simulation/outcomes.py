"""What an actuary reads off a simulated year, as tidy DataFrames (money in int64 fen).

Per scenario and replication:

* ``summary`` — persons, claims, total cost, in-policy amount, each layer's outlay, the fund total,
  the persons' part, and the aggregate in-policy reimbursement ratio
  (政策内报销比例 = Σ fund payments / Σ in-policy amount, Xianning's 95.8% figure);
* ``outlay`` — the same outlay in long form, one row per layer (fund);
* ``ratios`` — the reimbursement ratio per relief category × visit type (and over all categories);
* ``oop`` — out of pocket (``psn_part_amt`` per person-year, every person of the cohort, also
  those without a claim) per category: mean (half up to the fen), percentiles (observed values: ``inverted_cdf``)
  and the share of persons above each threshold;
* ``caps`` — persons who reached each cap (a claim's payment hit the cap of its rule);
* ``winners`` — against the baseline, per category: persons better off, worse off, unchanged,
  Σ gains and Σ losses;
* ``supplementary`` — the premium-funded layer: insured persons, premium, paid, loss ratio,
  the second payout due under the floor;
* ``warnings`` — early warning (预警监测, when the policy declares it) per category: persons
  watched, warned (the year's burden at or above their group's line in force on 31 December) and,
  against the baseline, kept out of the warning zone or pushed into it;
* ``deciles`` — against the baseline, per out-of-pocket group (deciles of the bottom 99%, the top
  1% apart): mean out of pocket before and after, mean change, winners and losers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.money import mean_half_up
from settlement.simulation.blocks import GROUP_FIELDS, PERSON_MONEY, BlockResult
from settlement.simulation.reform import deciles
from settlement.supplementary import account, funded_layer, insured_categories, year_terms
from settlement.warnings import person_warned
from tiers.codes import CATEGORIES, MED_TYPES
from tiers.reforms import BASELINE
from tiers.schema import Layer, Policy

I64 = npt.NDArray[np.int64]
PERCENTILES = (50, 90, 99)
ALL = "all"


@dataclass(frozen=True)
class Measures:
    """The tables of one or more replications (``replication`` column tells them apart)."""

    summary: pd.DataFrame
    outlay: pd.DataFrame
    ratios: pd.DataFrame
    oop: pd.DataFrame
    caps: pd.DataFrame
    winners: pd.DataFrame
    supplementary: pd.DataFrame
    warnings: pd.DataFrame
    deciles: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def stack(cls, parts: list[Measures]) -> Measures:
        return cls(**{f.name: pd.concat([getattr(p, f.name) for p in parts], ignore_index=True) for f in fields(cls)})


def measure(
    result: BlockResult, policies: dict[str, Policy], year: int, replication: int, thresholds: tuple[int, ...]
) -> Measures:
    """Every table for one replication (a whole cohort: :func:`~settlement.simulation.blocks.combine`)."""
    tag = {"replication": replication}
    return Measures(
        summary=summary(result).assign(**tag),
        outlay=outlay(result, policies).assign(**tag),
        ratios=ratios(result).assign(**tag),
        oop=out_of_pocket(result, thresholds).assign(**tag),
        caps=caps(result).assign(**tag),
        winners=winners(result).assign(**tag),
        supplementary=supplementary(result, policies, year).assign(**tag),
        warnings=warned(result, policies, year).assign(**tag),
        deciles=deciles(result).assign(**tag),
    )


def _ratio(paid: pd.Series, base: pd.Series) -> pd.Series:
    return (paid / base.where(base != 0)).astype(float)


def summary(result: BlockResult) -> pd.DataFrame:
    rows = []
    for name, outcome in result.outcomes.items():
        sums = {c: int(outcome.person[c].sum()) for c in PERSON_MONEY}
        rows.append({"scenario": name, "persons": len(result.category), "claims": result.claims, **sums})
    frame = pd.DataFrame(rows)
    return frame.assign(reimbursement_ratio=_ratio(frame["fund_pay_sumamt"], frame["inscp_scp_amt"]))


def outlay(result: BlockResult, policies: dict[str, Policy]) -> pd.DataFrame:
    rows = []
    for name, outcome in result.outcomes.items():
        layers: dict[str, Layer] = {layer.output: layer for layer in policies[name].layers}
        for output in policies[name].outputs():  # the standard four, then a region's own funds
            layer = layers.get(output)
            rows.append(
                {
                    "scenario": name,
                    "fund": output,
                    "layer": layer.name if layer else "",
                    "fund_pay_type": (layer.fund_pay_type or "") if layer else "",
                    "amount": int(outcome.person[output].sum()),
                }
            )
    return pd.DataFrame(rows)


def ratios(result: BlockResult) -> pd.DataFrame:
    frames = []
    for name, outcome in result.outcomes.items():
        grid = pd.DataFrame(outcome.groups.T, columns=list(GROUP_FIELDS))
        grid["category"] = np.repeat(CATEGORIES, len(MED_TYPES))
        grid["med_type"] = np.tile(MED_TYPES, len(CATEGORIES))
        per_med = grid.groupby("med_type", as_index=False)[list(GROUP_FIELDS)].sum().assign(category=ALL)
        overall = grid[list(GROUP_FIELDS)].sum().to_frame().T.assign(category=ALL, med_type=ALL)
        both = pd.concat([grid[grid["claims"] > 0], per_med, overall], ignore_index=True)
        frames.append(both.assign(scenario=name))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[["scenario", "category", "med_type", *GROUP_FIELDS]].astype(dict.fromkeys(GROUP_FIELDS, np.int64))
    return frame.assign(reimbursement_ratio=_ratio(frame["fund_pay_sumamt"], frame["inscp_scp_amt"]))


def _oop_row(values: I64, thresholds: tuple[int, ...]) -> dict[str, float | int]:
    row: dict[str, float | int] = {"persons": len(values), "mean": mean_half_up(int(values.sum()), len(values))}
    for p in PERCENTILES:
        row[f"p{p}"] = int(np.percentile(values, p, method="inverted_cdf")) if len(values) else 0
    row["max"] = int(values.max()) if len(values) else 0
    for t in thresholds:
        row[f"share_above_{t // 100}"] = float((values > t).mean()) if len(values) else 0.0
    return row


def out_of_pocket(result: BlockResult, thresholds: tuple[int, ...]) -> pd.DataFrame:
    """``thresholds`` in fen; columns ``share_above_<yuan>``."""
    rows = []
    for name, outcome in result.outcomes.items():
        paid = outcome.person["psn_part_amt"]
        groups = [(CATEGORIES[c], result.category == c) for c in np.unique(result.category)]
        for category, mask in [*groups, (ALL, np.ones(len(paid), bool))]:
            rows.append({"scenario": name, "category": category, **_oop_row(paid[mask], thresholds)})
    return pd.DataFrame(rows)


def caps(result: BlockResult) -> pd.DataFrame:
    rows = [
        {"scenario": name, "cap": cap, "persons": int(reached.sum())}
        for name, outcome in result.outcomes.items()
        for cap, reached in outcome.caps.items()
    ]
    return pd.DataFrame(rows, columns=["scenario", "cap", "persons"])


def deltas(result: BlockResult) -> pd.DataFrame:
    """Per person: the baseline's out-of-pocket and each scenario's change to it (fen)."""
    base = result.outcomes[BASELINE].person["psn_part_amt"]
    frame = pd.DataFrame({"person_id": result.person_id, "category": np.asarray(CATEGORIES)[result.category]})
    frame["baseline_psn_part_amt"] = base
    for name, outcome in result.outcomes.items():
        if name != BASELINE:
            frame[f"{name}_delta"] = outcome.person["psn_part_amt"] - base
    return frame


def winners(result: BlockResult) -> pd.DataFrame:
    """Per scenario (not the baseline) and category: who pays less, more or the same than under the baseline."""
    rows = []
    base = result.outcomes[BASELINE].person["psn_part_amt"]
    for name, outcome in result.outcomes.items():
        if name == BASELINE:
            continue
        delta = outcome.person["psn_part_amt"] - base
        groups = [(CATEGORIES[c], result.category == c) for c in np.unique(result.category)]
        for category, mask in [*groups, (ALL, np.ones(len(delta), bool))]:
            d = delta[mask]
            rows.append(
                {
                    "scenario": name,
                    "category": category,
                    "persons": int(mask.sum()),
                    "winners": int((d < 0).sum()),
                    "losers": int((d > 0).sum()),
                    "unchanged": int((d == 0).sum()),
                    "gain": int(-d[d < 0].sum()),
                    "loss": int(d[d > 0].sum()),
                }
            )
    columns = ["scenario", "category", "persons", "winners", "losers", "unchanged", "gain", "loss"]
    return pd.DataFrame(rows, columns=columns)


def supplementary(result: BlockResult, policies: dict[str, Policy], year: int) -> pd.DataFrame:
    rows = []
    for name, outcome in result.outcomes.items():
        layer = funded_layer(policies[name])
        if layer is None or layer.funding is None:
            continue
        covered = insured_categories(layer)
        insured = (
            int(np.isin(np.asarray(CATEGORIES)[result.category], list(covered)).sum())
            if covered
            else len(result.category)
        )
        per_person, floor = year_terms(layer, year)
        paid = int(outcome.person[layer.output].sum())
        year_account, _ = account(year, insured, per_person, floor, paid, np.zeros(0, np.int64))
        rows.append(
            {
                "scenario": name,
                "layer": layer.id,
                "insured": insured,
                "premium": year_account.premium,
                "paid": paid,
                "loss_ratio": float(year_account.loss_ratio),
                "loss_ratio_floor": float(floor),
                "second_payout_due": year_account.due if layer.funding.second_payout else 0,
            }
        )
    columns = ["scenario", "layer", "insured", "premium", "paid", "loss_ratio", "loss_ratio_floor", "second_payout_due"]
    return pd.DataFrame(rows, columns=columns)


WARNED_COLUMNS = ("scenario", "category", "watched", "warned", "share_warned", "kept_out", "pushed_in")


def warned(result: BlockResult, policies: dict[str, Policy], year: int) -> pd.DataFrame:
    """Per scenario and category (and over all): persons watched, warned, their share, and against
    the baseline those a scenario keeps out of the warning zone or pushes into it."""
    flags = {}
    for name, outcome in result.outcomes.items():
        if policies[name].early_warning is not None:
            flags[name] = person_warned(pd.DataFrame(outcome.person), CATEGORIES, result.category, policies[name], year)
    if BASELINE not in flags:
        return pd.DataFrame(columns=list(WARNED_COLUMNS))
    base = flags[BASELINE][1]
    rows = []
    for name, (watched, warned_) in flags.items():
        groups = [(CATEGORIES[c], result.category == c) for c in np.unique(result.category)]
        for category, mask in [*groups, (ALL, np.ones(len(warned_), bool))]:
            persons = int((watched & mask).sum())
            rows.append({"scenario": name, "category": category, "persons_watched": persons,
                         "warned": int((warned_ & mask).sum()),
                         "share_warned": float((warned_ & mask).sum() / persons) if persons else 0.0,
                         "kept_out": int((base & ~warned_ & mask).sum()),
                         "pushed_in": int((~base & warned_ & mask).sum())})  # fmt: skip
    return pd.DataFrame(rows).rename(columns={"persons_watched": "watched"})
