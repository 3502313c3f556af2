"""Post-hoc assistance, once a year over a person-year's settlements (倾斜救助, 依申请救助).

Each program of a policy's ``post_hoc`` list is a layer whose rules see one claim per person and
year: the burden still left of the in-policy amount after layers 1–3 (``after_assistance``) or
after every layer (``after_all_layers``), plus the bill parts the program ``adds`` (先行自付 — 自付二
— or 超限价, where its text counts them). A person who held several categories during the year is
settled under each and gets the most favourable (就高不重复; the first in
the policy's category order among equals). It is settled by the same engine —
deductible, bands, ratio and cap as in any layer — so its numbers are explained the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.engine import SettledBatch, settle
from settlement.explanation import columns
from settlement.money import fen_to_yuan_text
from tiers.codes import CATEGORIES, CLAIM_FLAGS, fund_columns
from tiers.schema import ClaimFlags, Policy, PostHoc
from tiers.tables import compile_policy

AFTER_ASSISTANCE = ("hifp_pay", "hifmi_pay", "maf_pay")
"""The funds ``after_assistance`` deducts (``after_all_layers``: every fund, a region's own too)."""
SHOWN = (
    "person_id",
    "year",
    "category",
    "base",
    "rule",
    "bucket",
    "deductible_applied",
    "bands",
    "paid",
    "cap",
    "cap_left",
)


PARTS = {"preselfpay": "preselfpay_amt", "overlmt_selfpay": "overlmt_selfpay"}
"""The bill parts a program may add to its base, and their columns in :func:`person_years`."""


def _money(outputs: tuple[str, ...]) -> tuple[str, ...]:
    return ("inscp_scp_amt", *outputs, *PARTS.values())


def _claim_rows(result: SettledBatch, counts: ClaimFlags | None = None) -> pd.DataFrame:
    """Every claim's output row with its person, year, day, category and bill parts — only the
    claims whose attributes are ``counts``."""
    table = result.claims
    rows = result.frame().assign(
        person_id=table.persons[table.person],
        year=table.year,
        day=table.day,
        category=result.category,
        preselfpay_amt=table.preselfpay,
        overlmt_selfpay=table.overlmt_selfpay,
    )
    if counts is None or not counts.wanted():
        return rows
    flags = table.flags if table.flags is not None else np.zeros(len(table), np.int64)
    keep = np.ones(len(table), bool)
    for flag, value in counts.wanted().items():
        keep &= ((flags >> CLAIM_FLAGS.index(flag)) & 1) == int(value)
    return rows[keep]


def person_years(result: SettledBatch, counts: ClaimFlags | None = None) -> pd.DataFrame:
    """Per person and year (fen): in-policy amount, each fund's payments (the policy's payment
    columns), 先行自付 and 超限价, and the last claim's category (the category it was settled under)
    — of the claims a program ``counts`` (all by default)."""
    data = _claim_rows(result, counts).sort_values(["person_id", "day"], kind="stable")
    grouped = data.groupby(["person_id", "year"], as_index=False, sort=True)
    return grouped.agg(**{m: (m, "sum") for m in _money(result.policy.outputs)}, category=("category", "last"))


def year_categories(result: SettledBatch) -> pd.DataFrame:
    """(person_id, year, category code): every category a person's claims of the year were settled
    under — the candidates of a post-hoc program."""
    rows = _claim_rows(result)[["person_id", "year", "category"]]
    return rows.drop_duplicates().sort_values(["person_id", "year", "category"], ignore_index=True)


def _category_names(codes: pd.Series, policy: Policy) -> npt.NDArray[np.object_]:
    names: npt.NDArray[np.object_] = np.asarray(policy.categories(), dtype=object)[codes.to_numpy(np.int64)]
    return names


def _claims(years: pd.DataFrame, base: pd.Series, policy: Policy) -> pd.DataFrame:
    """One claim per row (a person-year under one candidate category) whose in-policy amount is
    ``base`` (fen, negatives as 0). Each candidate is a person of its own to the engine, so that one
    candidate's deductible and cap never see another's."""
    yuan = fen_to_yuan_text(base.clip(lower=0).to_numpy(np.int64))
    candidate = years["person_id"] + "/" + years["category"].astype(str)
    return pd.DataFrame(
        {
            "claim_id": candidate + "/" + years["year"].astype(str),
            "person_id": candidate,
            "category": _category_names(years["category"], policy),
            "med_type": "21",
            "hospital_level": str(policy.tiers()[0]),
            "settle_date": years["year"].astype(str) + "-12-31",
            "diagnosis": "",
            "accident": "0",
            "medfee_sumamt": yuan,
            "fulamt_ownpay_amt": "0",
            "overlmt_selfpay": "0",
            "preselfpay_amt": "0",
        }
    )


def program_base(program: PostHoc, years: pd.DataFrame) -> pd.Series:
    """The program's base per person-year (fen): what its ``base`` says is left of the in-policy
    amount, plus the bill parts it ``adds``. ``years``' fund columns are those ending in ``_pay``."""
    deducted = list(AFTER_ASSISTANCE if program.base == "after_assistance" else fund_columns(years.columns))
    left = years["inscp_scp_amt"] - years[deducted].sum(axis=1)
    return left + years[[PARTS[p] for p in program.adds]].sum(axis=1)


def _candidates(years: pd.DataFrame, categories: pd.DataFrame | None) -> pd.DataFrame:
    """One row per person-year and candidate category (``years``' own category when none are given)."""
    if categories is None:
        return years.reset_index(drop=True)
    merged = years.drop(columns="category").merge(categories, on=["person_id", "year"], how="left")
    merged["category"] = merged["category"].fillna(CATEGORIES.index("general")).astype(np.int64)
    return merged.sort_values(["person_id", "year", "category"], ignore_index=True)


def settle_program(
    program: PostHoc, policy: Policy, years: pd.DataFrame, categories: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One program's payments per person-year, with the rule, deductible, bands and cap that applied,
    under the most favourable of the person's ``categories`` of the year (:func:`year_categories`;
    by default ``years``' own ``category``)."""
    rows = _candidates(years, categories)
    only = compile_policy(policy.model_copy(update={"layers": (program,), "post_hoc": ()}))
    result = settle(_claims(rows, program_base(program, rows), policy), only)
    explained = pd.DataFrame(columns(result))
    out = explained.assign(
        person_id=rows["person_id"].to_numpy(),
        year=rows["year"].to_numpy(),
        category=_category_names(rows["category"], policy),
    )
    best = out.assign(order=np.arange(len(out))).sort_values(["paid", "order"], ascending=[False, True])
    out = best.drop_duplicates(["person_id", "year"]).sort_values("order", ignore_index=True)
    out.insert(0, "program", program.id)
    for column in ("cap", "cap_left"):  # -1 in the explanation: no cap → empty
        values = out[column].to_numpy(np.int64)
        out[column] = pd.Series(values, dtype="Int64").mask(values < 0)
    return out[["program", *SHOWN]]


class ApplicantsError(ValueError):
    """A program paid on application run without the list of who applied."""


def applied(program: PostHoc, years: pd.DataFrame, applicants: pd.DataFrame | None) -> pd.DataFrame:
    """The person-years a program pays: all of ``years``, or for a program on application
    (依申请) those in ``applicants`` (``person_id``, ``year``: approved applications)."""
    if not program.on_application:
        return years
    if applicants is None:
        detail = (
            f"program {program.id} pays on application (依申请): give who applied and was approved (person_id, year)"
        )
        raise ApplicantsError(detail)
    keys = applicants[["person_id", "year"]].astype({"person_id": str, "year": np.int64}).drop_duplicates()
    return years.merge(keys, on=["person_id", "year"], how="inner")


def applicants_of(text: pd.DataFrame, where: str) -> pd.DataFrame:
    """A file of applicants (``person_id``, ``year`` as text) read and checked: a bad row is named."""
    missing = [c for c in ("person_id", "year") if c not in text.columns]
    if missing:
        raise ApplicantsError(f"{where}: no column {', '.join(missing)} (who applied: person_id, year)")
    years = pd.to_numeric(text["year"], errors="coerce")
    bad = np.flatnonzero(years.isna().to_numpy() | (text["person_id"].fillna("") == "").to_numpy())
    if len(bad):
        raise ApplicantsError(f"{where}: row {bad[0] + 2}: person_id and a year (e.g. 2024) are required")
    return pd.DataFrame({"person_id": text["person_id"].astype(str), "year": years.astype(np.int64)})
