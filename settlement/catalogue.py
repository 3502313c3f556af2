"""The region's medical-insurance catalogue (医保目录) and the classification of fee details against it,
as the platform answers 2204 / 2301 — pure and vectorised.

A catalogue row is one dated version of a list code: its 收费项目等级 (``chrgitm_lv``: ``01`` 甲类,
``02`` 乙类, ``03`` 丙类), its 先行自付比例 (``selfpay_prop``, 0–1: 乙类's share the person pays first)
and its 限价 (``pric_uplmt_amt``, yuan per unit; empty: none), valid from ``begndate`` to ``enddate``
(empty: open). Files in the shape of the platform's downloads are read (1312 ``hilist_code``,
``hilist_name``; 1318 ``hilist_pric_uplmt_amt``; 1319 ``selfpay_prop``) as well as our own names.

A detail (one fee row: list code, day, amount, count) is classified by the version in force on its
day: not in the catalogue, or 丙类 → all 全自费; else the part of the amount above the limit times the
count is 超限价, of the rest 乙类's ``selfpay_prop`` is 先行自付 (rounded half up to the fen by
:func:`settlement.money.round_half_up`), and what remains is in-policy. Refund rows (negative amounts
and counts) are classified the same way, their parts negative.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.money import parse_yuan, round_half_up
from tiers.tables import RATIO_SCALE

I64 = npt.NDArray[np.int64]
LEVELS = {"01": "甲类", "02": "乙类", "03": "丙类"}
ALIASES = {"hilist_code": "list_code", "med_list_codg": "list_code", "hilist_name": "name",
           "hilist_pric_uplmt_amt": "pric_uplmt_amt", "pric_uplmt": "pric_uplmt_amt"}  # fmt: skip
CATALOGUE_COLUMNS = ("list_code", "name", "chrgitm_lv", "selfpay_prop", "pric_uplmt_amt", "begndate", "enddate",
                     "med_chrgitm_type")  # fmt: skip
"""A catalogue file's columns (our names; the platform's accepted as :data:`ALIASES`)."""
PARTS = ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")


class CatalogueError(ValueError):
    """A catalogue file that cannot be read: the file, the row and the column named."""


def _ratio(text: str, where: str) -> int:
    try:
        value = Decimal(text or "0")
    except InvalidOperation as exc:
        raise CatalogueError(f"{where}: {text!r} is not a share between 0 and 1") from exc
    if not 0 <= value <= 1 or value * RATIO_SCALE != int(value * RATIO_SCALE):
        raise CatalogueError(f"{where}: {text!r} is not a share between 0 and 1 (at most 4 decimals)")
    return int(value * RATIO_SCALE)


def _dates(text: pd.Series, where: str, column: str) -> pd.Series:
    days = pd.to_datetime(text.str.slice(0, 10).replace("", None), format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero((text != "").to_numpy() & days.isna().to_numpy())
    if len(bad):
        raise CatalogueError(f"{where}: row {bad[0] + 2}: {column} {text.iloc[bad[0]]!r} is not a date YYYY-MM-DD")
    return days.astype("datetime64[s]")


def read_catalogue(text: pd.DataFrame, where: str) -> pd.DataFrame:
    """A catalogue file's text (every column a string) → list_code, name, chrgitm_lv, selfpay
    (1/10,000), uplmt (fen, -1: none), begndate, enddate (NaT: open), med_chrgitm_type."""
    text = text.rename(columns={k: v for k, v in ALIASES.items() if k in text.columns and v not in text.columns})
    missing = [c for c in ("list_code", "chrgitm_lv", "begndate") if c not in text.columns]
    if missing:
        raise CatalogueError(f"{where}: no column {', '.join(missing)} (columns: {', '.join(CATALOGUE_COLUMNS)})")
    text = text.reindex(columns=list(CATALOGUE_COLUMNS), fill_value="").fillna("").astype(str)
    bad = np.flatnonzero(~text["chrgitm_lv"].isin(list(LEVELS)).to_numpy() | (text["list_code"] == "").to_numpy())
    if len(bad):
        row = text.iloc[bad[0]]
        raise CatalogueError(f"{where}: row {bad[0] + 2}: list_code {row['list_code']!r} with chrgitm_lv "
                             f"{row['chrgitm_lv']!r} (01 甲类, 02 乙类, 03 丙类)")  # fmt: skip
    limit = text["pric_uplmt_amt"]
    fen, wrong, why = parse_yuan(limit.where(limit != "", "0"))
    if len(wrong):
        raise CatalogueError(f"{where}: row {wrong[0] + 2}: pric_uplmt_amt: {why[0]}")
    selfpay = [_ratio(v, f"{where}: row {i + 2}: selfpay_prop") for i, v in enumerate(text["selfpay_prop"])]
    return pd.DataFrame({
        "list_code": text["list_code"], "name": text["name"], "chrgitm_lv": text["chrgitm_lv"],
        "selfpay": np.asarray(selfpay, np.int64), "uplmt": np.where(limit == "", -1, fen).astype(np.int64),
        "begndate": _dates(text["begndate"], where, "begndate"), "enddate": _dates(text["enddate"], where, "enddate"),
        "med_chrgitm_type": text["med_chrgitm_type"],
    })  # fmt: skip


def _signed_round(scaled: I64) -> I64:
    """:func:`round_half_up` for amounts of either sign (a refund's parts mirror its charge's)."""
    rounded: I64 = np.sign(scaled) * round_half_up(np.abs(scaled))
    return rounded


def _in_force(details: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Each detail's catalogue version in force on its day (the latest begun), or none (NaN)."""
    rows = details[["list_code", "day"]].assign(row=np.arange(len(details)))
    joined = rows.merge(catalogue, on="list_code", how="inner")
    live = joined[
        (joined["begndate"] <= joined["day"]) & (joined["enddate"].isna() | (joined["day"] <= joined["enddate"]))
    ]
    latest = live.sort_values(["row", "begndate"]).drop_duplicates("row", keep="last").set_index("row")
    return latest.reindex(np.arange(len(details)))


def classify(details: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Per detail (``list_code``, ``day`` (a datetime64, midnight), ``amount`` fen, ``cnt4`` the count in
    1/10,000): :data:`PARTS` (fen), ``chrgitm_lv``, ``selfpay`` (1/10,000), ``uplmt`` (fen, -1 none),
    ``listed`` and ``med_chrgitm_type`` — see the module's text."""
    found = _in_force(details, catalogue)
    amount = details["amount"].to_numpy(np.int64)
    level = found["chrgitm_lv"].fillna("").to_numpy(object)
    covered = (level == "01") | (level == "02")
    uplmt = found["uplmt"].fillna(-1).to_numpy(np.int64)
    allowed = _signed_round(np.where(uplmt >= 0, uplmt, 0) * details["cnt4"].to_numpy(np.int64))
    over = np.where(covered & (uplmt >= 0), np.sign(amount) * np.maximum(np.abs(amount) - np.abs(allowed), 0), 0)
    selfpay = np.where(level == "02", found["selfpay"].fillna(0).to_numpy(np.int64), 0)
    pre = np.where(covered, _signed_round((amount - over) * selfpay), 0)
    full = np.where(covered, 0, amount)
    return pd.DataFrame({
        "fulamt_ownpay_amt": full, "overlmt_amt": over, "preselfpay_amt": pre,
        "inscp_scp_amt": amount - full - over - pre, "chrgitm_lv": np.where(covered | (level == "03"), level, "03"),
        "selfpay": selfpay, "uplmt": uplmt, "listed": found["chrgitm_lv"].notna().to_numpy(),
        "med_chrgitm_type": found["med_chrgitm_type"].fillna("").to_numpy(object),
    })  # fmt: skip
