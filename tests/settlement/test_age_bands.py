"""Age bands (Beijing's 学生儿童, an age band under 18), by hand from beijing.yaml: a 10,000.00 住院 bill
at a 二级 hospital, all in-policy — a child pays the 400 deductible: (10,000 − 400) × 78% = 7,488.00
from the basic fund; an adult (or a person whose birth date is not given) the 800 one: 7,176.00.
The 18th birthday counts on its day; 29 February's on 1 March in a common year."""

from __future__ import annotations

import pandas as pd
import pytest

from settlement.engine import settle
from tiers.loader import load_policy

BILL = {"category": "general", "med_type": "21", "hospital_level": "2", "diagnosis": "J18.9", "accident": "0",
        "medfee_sumamt": "10000.00", "fulamt_ownpay_amt": "0", "overlmt_selfpay": "0",
        "preselfpay_amt": "0"}  # fmt: skip


@pytest.mark.parametrize(
    ("birth", "settled", "basic"),
    [
        ("2010-05-01", "2025-03-10", 748_800),  # 14: a child
        ("1990-01-01", "2025-03-10", 717_600),  # an adult
        ("", "2025-03-10", 717_600),  # no birth date: in no age band, the adult terms
        ("2007-03-10", "2025-03-10", 717_600),  # 18 on the day
        ("2007-03-11", "2025-03-10", 748_800),  # 18 tomorrow
        ("2008-02-29", "2026-02-28", 748_800),  # 29 February: 18 on 1 March
        ("2008-02-29", "2026-03-01", 717_600),
    ],
)
def test_a_child_pays_the_childrens_deductible(birth: str, settled: str, basic: int) -> None:
    claim = {**BILL, "claim_id": "C1", "person_id": "P1", "settle_date": settled, "birth_date": birth}
    result = settle(pd.DataFrame([claim]), load_policy("beijing")).frame()
    assert int(result["hifp_pay"].iloc[0]) == basic


def test_a_file_without_birth_dates_settles_on_the_adult_terms() -> None:
    claim = {**BILL, "claim_id": "C1", "person_id": "P1", "settle_date": "2025-03-10"}
    assert int(settle(pd.DataFrame([claim]), load_policy("beijing")).frame()["hifp_pay"].iloc[0]) == 717_600


def test_a_birth_date_that_is_not_a_date_is_refused() -> None:
    from settlement.claims import ClaimValidationError

    claim = {**BILL, "claim_id": "C1", "person_id": "P1", "settle_date": "2025-03-10", "birth_date": "2010/05/01"}
    with pytest.raises(ClaimValidationError, match="claim C1: birth_date: not a date YYYY-MM-DD"):
        settle(pd.DataFrame([claim]), load_policy("beijing"))
