"""Early warning as a claim is settled: the person-year's burden before (from its books, read with
the claim's person-year) and after the claim, against the policy's line for the person's group
(:func:`settlement.warnings.at_settlement`, on the batch's arrays); a claim that reaches the line
tells the hospital so, with where the patient may apply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from api.books.reading import PersonYear
from settlement.engine import SettledBatch
from settlement.money import yuan_grouped
from settlement.warnings import Booked, at_settlement


def early_warnings(result: SettledBatch, years: Sequence[PersonYear | None]) -> list[dict[str, Any] | None]:
    """Per settled claim (aligned with ``years``, its person-year's reading): its warning, or None
    (the policy watches nobody, the person's group is not watched, or the line is not reached)."""
    policy = result.policy.policy
    if policy.early_warning is None or not len(years):
        return [None] * len(years)
    table = result.claims
    claims = Booked(result.psn_part_amt, table.fulamt_ownpay, table.inscp, result.fund_pay_sumamt)
    books = np.array([y.booked if y else (0, 0, 0, 0) for y in years], np.int64).reshape(-1, 4)
    before = Booked(books[:, 0], books[:, 1], books[:, 2], books[:, 3])
    found = at_settlement(policy, result.category, np.asarray(table.day).astype("datetime64[D]"), claims, before)
    groups = policy.early_warning.groups
    return [
        _alert(int(after), int(threshold), groups[group].name, groups[group].id, bool(crossed))
        if crossed or above else None
        for group, threshold, after, crossed, above in zip(
            found.group.tolist(), found.threshold.tolist(), found.after.tolist(), found.crossed.tolist(),
            found.above.tolist(), strict=True,
        )
    ]  # fmt: skip


def _alert(burden: int, threshold: int, group_name: str, group: str, crossed: bool) -> dict[str, Any]:
    reached = "本次结算达到" if crossed else "已超过"
    line = f"本年个人负担 {yuan_grouped(burden)} 元，{reached}{group_name}预警线 {yuan_grouped(threshold)} 元"
    message = f"因病致贫返贫预警：{line}；可告知患者向医保或民政部门申请医疗救助 (early warning: the line is reached)"
    return {"group": group, "group_name": group_name, "burden": burden, "threshold": threshold, "crossed": crossed,
            "message": message}  # fmt: skip
