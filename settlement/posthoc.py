"""Post-hoc assistance, once a year over a person-year's settlements (倾斜救助, 依申请救助).

Each program of a policy's ``post_hoc`` list is a layer whose rules see one claim per person and
year: the burden still left of the in-policy amount after layers 1–3 (``after_assistance``) or
after every layer (``after_all_layers``), under the category of the person's last claim of that
year. It is settled by the same engine — deductible, bands, ratio and cap as in any layer — so
its numbers are explained the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.engine import SettledBatch, settle
from settlement.explanation import columns
from settlement.money import fen_to_yuan_text
from tiers.codes import CATEGORIES
from tiers.schema import Policy, PostHoc
from tiers.tables import compile_policy

AFTER = {
    "after_assistance": ("hifp_pay", "hifmi_pay", "maf_pay"),
    "after_all_layers": ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"),
}
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


def person_years(result: SettledBatch) -> pd.DataFrame:
    """Per person and year (fen): in-policy amount, each layer's payments, the last claim's category
    (the category it was settled under)."""
    table = result.claims
    data = (
        result.frame()
        .assign(person_id=table.persons[table.person], year=table.year, day=table.day, category=result.category)
        .sort_values(["person_id", "day"], kind="stable")
    )
    money = ["inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"]
    grouped = data.groupby(["person_id", "year"], as_index=False, sort=True)
    return grouped.agg(**{m: (m, "sum") for m in money}, category=("category", "last"))


def _category_names(codes: pd.Series) -> npt.NDArray[np.object_]:
    names: npt.NDArray[np.object_] = np.asarray(CATEGORIES, dtype=object)[codes.to_numpy(np.int64)]
    return names


def _claims(years: pd.DataFrame, base: pd.Series) -> pd.DataFrame:
    """One claim per person-year whose in-policy amount is ``base`` (fen, negatives as 0)."""
    yuan = fen_to_yuan_text(base.clip(lower=0).to_numpy(np.int64))
    return pd.DataFrame(
        {
            "claim_id": years["person_id"] + "/" + years["year"].astype(str),
            "person_id": years["person_id"],
            "category": _category_names(years["category"]),
            "med_type": "21",
            "hospital_level": "1",
            "settle_date": years["year"].astype(str) + "-12-31",
            "diagnosis": "",
            "accident": "0",
            "medfee_sumamt": yuan,
            "fulamt_ownpay_amt": "0",
            "overlmt_selfpay": "0",
            "preselfpay_amt": "0",
        }
    )


def settle_program(program: PostHoc, policy: Policy, years: pd.DataFrame) -> pd.DataFrame:
    """One program's payments per person-year, with the rule, deductible, bands and cap that applied."""
    base = years["inscp_scp_amt"] - years[list(AFTER[program.base])].sum(axis=1)
    only = compile_policy(policy.model_copy(update={"layers": (program,), "post_hoc": ()}))
    result = settle(_claims(years, base), only)
    explained = pd.DataFrame(columns(result))
    out = explained.assign(year=years["year"].to_numpy(), category=_category_names(years["category"]))
    out.insert(0, "program", program.id)
    for column in ("cap", "cap_left"):  # -1 in the explanation: no cap → empty
        values = out[column].to_numpy(np.int64)
        out[column] = pd.Series(values, dtype="Int64").mask(values < 0)
    return out[["program", *SHOWN]]
