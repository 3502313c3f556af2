"""Early warning as a claim is settled: the person-year's burden before (from its books, read with
the claim's person-year) and after the claim, against the policy's line for the person's group
(:func:`settlement.warnings.at_settlement`); a claim that reaches the line tells the hospital so,
with where the patient may apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from api.books.reading import PersonYear
from settlement.engine import SettledBatch
from settlement.money import yuan_grouped
from settlement.warnings import at_settlement, claim_rows

BOOKED = ("psn_part_amt", "fulamt_ownpay_amt", "inscp_scp_amt", "fund_pay")


def early_warnings(result: SettledBatch, years: Sequence[PersonYear | None]) -> list[dict[str, Any] | None]:
    """Per settled claim (aligned with ``years``, its person-year's reading): its warning, or None
    (the policy watches nobody, the person's group is not watched, or the line is not reached)."""
    policy = result.policy.policy
    if policy.early_warning is None or not len(years):
        return [None] * len(years)
    booked = pd.DataFrame([y.booked if y else (0, 0, 0, 0) for y in years], columns=list(BOOKED))
    found = at_settlement(claim_rows(result), booked, policy)
    names = {g.id: g.name for g in policy.early_warning.groups}
    return [
        _alert(row, names[row["group"]]) if row["crossed"] or row["above"] else None for row in found.to_dict("records")
    ]


def _alert(row: Mapping[Any, Any], group_name: str) -> dict[str, Any]:
    burden, threshold = int(row["after"]), int(row["threshold"])
    reached = "本次结算达到" if row["crossed"] else "已超过"
    line = f"本年个人负担 {yuan_grouped(burden)} 元，{reached}{group_name}预警线 {yuan_grouped(threshold)} 元"
    message = f"因病致贫返贫预警：{line}；可告知患者向医保或民政部门申请医疗救助 (early warning: the line is reached)"
    return {"group": row["group"], "group_name": group_name, "burden": burden, "threshold": threshold,
            "crossed": bool(row["crossed"]), "message": message}  # fmt: skip
