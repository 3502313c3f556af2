"""Synthetic claim batches for benchmarks: built once, reproducible from a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tiers.codes import CATEGORIES

MAJOR = ["C50.1", "I21.0", "I63.9", "N18.5", "Q21.1"]
OTHER = ["J18.9", "K35.8", "E11.9", "I10", "M54.5"]


def claims_frame(n_claims: int, n_persons: int, seed: int = 0) -> pd.DataFrame:
    """``n_claims`` claims over ``n_persons`` persons in 2024–2025, in the claim contract."""
    rng = np.random.default_rng(seed)
    person = rng.integers(0, n_persons, n_claims)
    person_category = rng.choice(len(CATEGORIES), n_persons, p=_category_weights())
    med = rng.choice(["11", "14", "21"], n_claims, p=[0.5, 0.25, 0.25])
    scale = np.select([med == "11", med == "14"], [300.0, 2_000.0], 25_000.0)
    total = np.round(rng.lognormal(0, 1.0, n_claims) * scale, 2)
    own = np.round(total * rng.uniform(0, 0.2, n_claims), 2)
    over = np.round(total * rng.uniform(0, 0.02, n_claims), 2)
    pre = np.round(total * rng.uniform(0, 0.08, n_claims), 2)
    day = np.datetime64("2024-01-01") + rng.integers(0, 731, n_claims).astype("timedelta64[D]")
    major = rng.random(n_claims) < 0.15
    diagnosis = np.where(major, rng.choice(MAJOR, n_claims), rng.choice(OTHER, n_claims))
    return pd.DataFrame(
        {
            "claim_id": [f"C{i:09d}" for i in range(n_claims)],
            "person_id": [f"P{p:08d}" for p in person],
            "category": np.asarray(CATEGORIES)[person_category[person]],
            "med_type": med,
            "hospital_level": rng.integers(1, 4, n_claims).astype(str),
            "settle_date": day.astype(str),
            "diagnosis": diagnosis,
            "accident": (rng.random(n_claims) < 0.03).astype(int).astype(str),
            "medfee_sumamt": _yuan(total),
            "fulamt_ownpay_amt": _yuan(own),
            "overlmt_selfpay": _yuan(over),
            "preselfpay_amt": _yuan(pre),
        }
    )


def _category_weights() -> list[float]:
    weights = np.array([0.04, 0.10, 0.02, 0.05, 0.04, 0.02, 0.02, 0.01, 0.05, 0.65])
    return list(weights / weights.sum())


def _yuan(values: np.ndarray) -> list[str]:
    return [f"{v:.2f}" for v in values]
