"""Fee details classified against the catalogue, every figure by hand (examples/catalogue, illustrative):

a 甲类 阿莫西林 2 × 25.50 = 51.00: all in-policy.
b 乙类 利妥昔单抗 8,888.88 at 先行自付 10%: 888.888 → 888.89 first, 7,999.99 in-policy.
c 甲类 床位费 10 days × 80.00 = 800.00, 限价 50.00 a day: 300.00 超限价, 500.00 in-policy.
d 乙类 支架 in 2024 (限价 6,000, 20%): 7,000.00 → 1,000.00 超限价, 1,200.00 first, 4,800.00 in-policy.
e the same in 2025 (its new version: 限价 5,500, 15%): 1,500.00 超限价, 825.00 first, 4,675.00 in-policy.
f 丙类 100.00: 全自费.  g a code not in the catalogue, 66.66: 全自费.  h a's refund, −51.00: −51.00 in-policy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from settlement.catalogue import CatalogueError, classify, read_catalogue
from settlement.io import read_text_table

CATALOGUE = Path(__file__).parents[2] / "examples" / "catalogue" / "demo-catalogue.csv"
DETAILS = [
    ("a", "XJ01CAA040A001010100000", "2025-03-01", 5100, 20000),
    ("b", "XL01XC070B001010100000", "2025-03-01", 888888, 10000),
    ("c", "001102000010000", "2025-03-01", 80000, 100000),
    ("d", "C14060100100000", "2024-06-01", 700000, 10000),
    ("e", "C14060100100000", "2025-03-01", 700000, 10000),
    ("f", "250101001000000", "2025-03-01", 10000, 10000),
    ("g", "NOT-LISTED", "2025-03-01", 6666, 10000),
    ("h", "XJ01CAA040A001010100000", "2025-03-02", -5100, -20000),
]


def test_each_detail_is_classified_by_the_version_in_force() -> None:
    catalogue = read_catalogue(read_text_table(CATALOGUE), str(CATALOGUE))
    details = pd.DataFrame(DETAILS, columns=["row", "list_code", "day", "amount", "cnt4"])
    details["day"] = pd.to_datetime(details["day"]).astype("datetime64[s]")
    found = classify(details, catalogue).assign(row=details["row"]).set_index("row")
    parts = found[["fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt"]].to_numpy().tolist()
    assert dict(zip(found.index, parts, strict=True)) == {
        "a": [0, 0, 0, 5100], "b": [0, 0, 88889, 799999], "c": [0, 30000, 0, 50000],
        "d": [0, 100000, 120000, 480000], "e": [0, 150000, 82500, 467500], "f": [10000, 0, 0, 0],
        "g": [6666, 0, 0, 0], "h": [0, 0, 0, -5100],
    }  # fmt: skip
    assert found["chrgitm_lv"].to_dict() == {"a": "01", "b": "02", "c": "01", "d": "02", "e": "02", "f": "03",
                                             "g": "03", "h": "01"}  # fmt: skip
    assert found["listed"].to_dict()["g"] == False  # noqa: E712
    assert (found.loc["d", "selfpay"], found.loc["e", "selfpay"], found.loc["e", "uplmt"]) == (2000, 1500, 550000)
    total = np.asarray(parts).sum(axis=1)
    assert total.tolist() == details["amount"].tolist()  # the parts add up to each amount, to the fen


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"chrgitm_lv": "04"}, r"row 2: list_code 'X' with chrgitm_lv '04'"),
        ({"selfpay_prop": "1.5"}, r"row 2: selfpay_prop: '1.5' is not a share"),
        ({"pric_uplmt_amt": "12.345"}, r"row 2: pric_uplmt_amt: more than two decimals"),
        ({"begndate": "2025/01/01"}, r"row 2: begndate '2025/01/01' is not a date"),
    ],
)
def test_a_bad_catalogue_row_is_named(edit: dict[str, str], reason: str) -> None:
    row = {"list_code": "X", "chrgitm_lv": "01", "selfpay_prop": "0", "pric_uplmt_amt": "", "begndate": "2025-01-01"}
    with pytest.raises(CatalogueError, match=reason):
        read_catalogue(pd.DataFrame([{**row, **edit}]), "c.csv")


def test_the_platform_s_column_names_are_read() -> None:
    row = {"hilist_code": "X", "hilist_name": "x", "chrgitm_lv": "02", "selfpay_prop": "0.05"}
    text = pd.DataFrame([{**row, "hilist_pric_uplmt_amt": "9.90", "begndate": "2025-01-01 00:00:00", "enddate": ""}])
    read = read_catalogue(text, "1312.csv").iloc[0]
    assert (read["list_code"], read["selfpay"], read["uplmt"]) == ("X", 500, 990)
    with pytest.raises(CatalogueError, match="no column list_code"):
        read_catalogue(pd.DataFrame([{"code": "X"}]), "c.csv")
