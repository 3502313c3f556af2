"""What a reform changes, as an actuary reads it in the report: each fund's and each category's
outlay against the baseline (replication 0, with the 5th–95th percentile of the difference over
the replications), winners and losers by out-of-pocket decile with the top 1% apart, and
out-of-pocket curves over bill size for stylised cases (:class:`Stylised`) per category.
Money in int64 fen; means half up to the fen (:func:`settlement.money.mean_half_up`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field

from settlement.engine import settle
from settlement.money import mean_half_up
from settlement.simulation.blocks import BlockResult
from tiers.reforms import BASELINE
from tiers.tables import CompiledPolicy

I64 = npt.NDArray[np.int64]
DEFAULT_STYLISED = Path(__file__).parent / "defaults" / "stylised.yaml"
GROUPS = (*(f"D{d}" for d in range(1, 11)), "top 1%")
"""Out-of-pocket groups: the ten deciles of the bottom 99% of persons, then the top 1%."""


class Stylised(BaseModel):
    """Stylised cases (see ``defaults/stylised.yaml``): one inpatient stay per person and bill size."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reference: str
    med_type: str
    hospital_level: int = Field(ge=1)
    diagnosis: str
    month_day: str = Field(pattern=r"^[01][0-9]-[0-3][0-9]$")
    fulamt_ownpay_percent: int = Field(ge=0, le=100)
    overlmt_selfpay_percent: int = Field(ge=0, le=100)
    preselfpay_percent: int = Field(ge=0, le=100)
    bills_yuan: tuple[int, ...] = Field(min_length=2)


def load_stylised(path: Path = DEFAULT_STYLISED) -> Stylised:
    return Stylised.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _against_baseline(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Each scenario's ``value`` beside the baseline's (same replication and keys), and the difference."""
    base = frame[frame["scenario"] == BASELINE][["replication", *keys, value]].rename(columns={value: "baseline"})
    both = frame[frame["scenario"] != BASELINE].merge(base, on=["replication", *keys], how="left")
    return both.assign(difference=both[value] - both["baseline"].fillna(0).astype(np.int64))


def _summarised(both: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Replication 0's figures, with the difference's 5th and 95th percentile over replications."""
    spread = both.groupby(["scenario", *keys], sort=False)["difference"].agg(
        p05=lambda d: int(np.percentile(d, 5, method="inverted_cdf")),
        p95=lambda d: int(np.percentile(d, 95, method="inverted_cdf")),
    )  # observed differences (exact fen), not interpolated
    first = both[both["replication"] == 0].set_index(["scenario", *keys])[["baseline", value, "difference"]]
    return first.join(spread).reset_index()


def overall(summary: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per reform: ``column`` of the whole cohort (e.g. ``fund_pay_sumamt``) against the baseline (fen)."""
    columns: pd.DataFrame = summary[["scenario", "replication", column]]
    return _summarised(_against_baseline(columns, [], column), [], column)


def by_fund(outlay: pd.DataFrame) -> pd.DataFrame:
    """Per reform and fund: the baseline's outlay, the reform's, the difference and its band (fen)."""
    return _summarised(_against_baseline(outlay, ["fund"], "amount"), ["fund"], "amount")


def by_category(ratios: pd.DataFrame) -> pd.DataFrame:
    """Per reform and relief category: what the funds pay for its persons, against the baseline (fen)."""
    rows = ratios[(ratios["category"] != "all") & (ratios["med_type"] != "all")]
    keys = ["scenario", "replication", "category"]
    sums = rows.groupby(keys, sort=False)["fund_pay_sumamt"].sum().reset_index()
    return _summarised(_against_baseline(sums, ["category"], "fund_pay_sumamt"), ["category"], "fund_pay_sumamt")


def decile_groups(baseline: I64) -> I64:
    """Each person's group (0–9 the deciles of the bottom 99%, 10 the top 1%) by the baseline's out
    of pocket, persons ranked (ties in cohort order): equal-sized groups even where many pay nothing.

    >>> groups = decile_groups(np.array([5, 0, 0, 9] + [1] * 196))  # 200 persons: the top 1% is 2
    >>> groups[:4].tolist(), np.bincount(groups).tolist()
    ([10, 0, 0, 10], [20, 20, 20, 20, 19, 20, 20, 20, 20, 19, 2])
    """
    n = len(baseline)
    rank = np.empty(n, np.int64)
    rank[np.argsort(baseline, kind="stable")] = np.arange(n)
    top = -(-n // 100)
    rest = max(n - top, 1)
    return np.where(rank >= n - top, 10, rank * 10 // rest).astype(np.int64)


def deciles(result: BlockResult) -> pd.DataFrame:
    """Per reform and out-of-pocket group: persons, the baseline's mean out of pocket, the reform's,
    the mean change, winners and losers (fen)."""
    base = result.outcomes[BASELINE].person["psn_part_amt"]
    group = decile_groups(base)
    frames = []
    for name, outcome in result.outcomes.items():
        if name == BASELINE:
            continue
        now = outcome.person["psn_part_amt"]
        frame = pd.DataFrame({"group": group, "baseline": base, "reform": now, "delta": now - base})
        sums = frame.groupby("group").agg(
            persons=("delta", "size"), baseline=("baseline", "sum"), reform=("reform", "sum"),
            winners=("delta", lambda d: int((d < 0).sum())), losers=("delta", lambda d: int((d > 0).sum())),
        )  # fmt: skip
        frames.append(sums.reset_index().assign(scenario=name))
    if not frames:
        return pd.DataFrame(
            columns=["scenario", "group", "persons", "baseline_mean", "mean", "change", "winners", "losers"]
        )
    out = pd.concat(frames, ignore_index=True)
    means = [
        (mean_half_up(int(b), int(p)), mean_half_up(int(r), int(p)))
        for b, r, p in zip(out["baseline"], out["reform"], out["persons"], strict=True)
    ]  # one per group and reform, not per person
    out["baseline_mean"], out["mean"] = [m[0] for m in means], [m[1] for m in means]
    out["change"] = out["mean"] - out["baseline_mean"]
    out["group"] = np.asarray(GROUPS)[out["group"].to_numpy()]
    return out[["scenario", "group", "persons", "baseline_mean", "mean", "change", "winners", "losers"]]


def _cases(spec: Stylised, categories: list[str], year: int) -> pd.DataFrame:
    bills = np.asarray(spec.bills_yuan, np.int64) * 100
    grid = pd.MultiIndex.from_product([categories, bills], names=["category", "bill"]).to_frame(index=False)
    fen = grid["bill"].to_numpy(np.int64)
    parts = {
        column: fen * percent // 100
        for column, percent in (
            ("fulamt_ownpay_amt", spec.fulamt_ownpay_percent),
            ("overlmt_selfpay", spec.overlmt_selfpay_percent),
            ("preselfpay_amt", spec.preselfpay_percent),
        )
    }
    cases = pd.DataFrame({
        "claim_id": [f"S{i:05d}" for i in range(len(grid))], "person_id": [f"P{i:05d}" for i in range(len(grid))],
        "category": grid["category"], "med_type": spec.med_type, "hospital_level": str(spec.hospital_level),
        "settle_date": f"{year}-{spec.month_day}", "diagnosis": spec.diagnosis, "accident": "0",
        "medfee_sumamt": _yuan(fen), **{c: _yuan(v) for c, v in parts.items()},
    })  # fmt: skip
    return cases.assign(bill=fen)


def _yuan(fen: I64) -> list[str]:
    from settlement.money import fen_to_yuan_text

    return [str(text) for text in fen_to_yuan_text(fen)]


def stylised(policies: dict[str, CompiledPolicy], spec: Stylised, categories: list[str], year: int) -> pd.DataFrame:
    """Per scenario, category and bill size: what the person pays (``psn_part_amt``) and the funds
    pay, one stylised inpatient stay each (settled by the engine, nothing else accumulated)."""
    cases = _cases(spec, categories, year)
    frames = []
    for name, policy in policies.items():
        known = cases[cases["category"].isin(policy.profiles.categories)]
        paid = settle(known.drop(columns="bill"), policy).frame()
        frames.append(pd.DataFrame({
            "scenario": name, "category": known["category"].to_numpy(), "bill": known["bill"].to_numpy(),
            "fund_pay_sumamt": paid["fund_pay_sumamt"].to_numpy(np.int64),
            "psn_part_amt": paid["psn_part_amt"].to_numpy(np.int64),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)
