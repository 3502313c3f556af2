"""Early warning of illness-driven poverty (因病返贫致贫预警监测), as a policy declares it.

国办发〔2021〕42号 asks medical-security offices to watch the burden a person is left with after the
layers and to warn early — for 低保边缘 and monitored people first — when it passes a line the region
sets, often a share of the prior year's per-capita disposable income (Beijing 37号 §八 quotes it).
A policy says, dated and referenced, which burden it measures, the groups it watches (by relief
category; one group may take everybody else) and each group's threshold (an amount, or
``{of: per_capita_disposable_income, times: 0.5}``), and which categories a warned person could be
granted (a case worker sees what each approval is worth)::

    early_warning:
      reference: 国办发〔2021〕42号 …
      burden: out_of_pocket
      groups:
        - {id: low_income, name: 低收入人口, categories: [dibao_edge, monitored], threshold: 10000}
        - {id: everybody, name: 其他参保人, threshold: {of: per_capita_disposable_income, times: 1}}
      grantable: [dibao, illness_poverty]
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tiers.declarations import CategoryCode, Strict, check_id
from tiers.params import Amount

BURDENS = {
    "in_policy": "符合政策范围内个人自付: what is left of the in-policy amount after every layer",
    "out_of_pocket": "个人负担 without 全自费: the person's part after every layer, 先行自付 and 超限价 included",
    "out_of_pocket_with_full_self_pay": "个人负担 with 全自费: everything the person pays",
}
"""What a policy may measure as a person-year's burden."""


class WarningGroup(Strict):
    """People watched under one threshold: those of ``categories`` (None: everybody not in another group)."""

    id: str
    name: str
    categories: tuple[CategoryCode, ...] | None = None
    threshold: Amount
    reference: str | None = None
    assumption: str | None = None

    _id = field_validator("id")(check_id)


class EarlyWarning(Strict):
    """Who is watched, what burden is measured and the line it must not pass (see the module text)."""

    reference: str
    assumption: str | None = None
    burden: Literal["in_policy", "out_of_pocket", "out_of_pocket_with_full_self_pay"] = "out_of_pocket"
    groups: tuple[WarningGroup, ...] = Field(min_length=1)
    grantable: tuple[CategoryCode, ...] = ()
    """Categories a warned person could be granted: what each would pay is shown with the warning."""

    @model_validator(mode="after")
    def _one_group_per_category(self) -> EarlyWarning:
        seen: dict[str, str] = {}
        for group in self.groups:
            for category in group.categories or ():
                if category in seen:
                    raise ValueError(f"category {category!r} is in groups {seen[category]!r} and {group.id!r}")
                seen[category] = group.id
        if sum(g.categories is None for g in self.groups) > 1:
            raise ValueError("only one group may take everybody else (no 'categories')")
        ids = [g.id for g in self.groups]
        if len(set(ids)) != len(ids):
            raise ValueError(f"group ids repeat: {ids}")
        return self

    def group_of(self, category: str) -> WarningGroup | None:
        """The group watching a category (its own, else the catch-all), or None: not watched."""
        own = next((g for g in self.groups if g.categories is not None and category in g.categories), None)
        return own or next((g for g in self.groups if g.categories is None), None)
