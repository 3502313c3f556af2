"""Stable codes shared by policies and claims: relief categories, visit types, hospital levels.

The position of a code in its tuple is its integer code inside the engine (``int8`` arrays);
never reorder, only append.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Category(StrEnum):
    """Relief category (救助身份类别) of a person on the date of a claim."""

    TEKUN = "tekun"  # 特困人员
    DIBAO = "dibao"  # 低保对象
    FANPIN = "fanpin"  # 返贫致贫人口
    DIBAO_EDGE = "dibao_edge"  # 低保边缘家庭成员
    MONITORED = "monitored"  # 防止返贫监测对象
    ILLNESS_POVERTY = "illness_poverty"  # 因病致贫重病患者
    EXPENSE_HARDSHIP = "expense_hardship"  # 支出型困难家庭成员
    CHILD_HARDSHIP = "child_hardship"  # 困境儿童
    FORMER_POOR = "former_poor"  # 原建档立卡低收入人口
    GENERAL = "general"  # 普通参保人


class MedType(StrEnum):
    """NHSA 医疗类别 (``med_type``) the engine settles."""

    GENERAL_OUTPATIENT = "11"  # 普通门诊
    CHRONIC_OUTPATIENT = "14"  # 门诊慢特病
    INPATIENT = "21"  # 普通住院


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
CLAIM_FLAGS: tuple[str, ...] = ("out_of_area", "out_of_province", "referral", "emergency")
"""Claim attributes a rule's ``when`` may test (optional 0/1 claim columns, 0 when absent): care
outside the insured region (异地就医: outside the 统筹区), outside its province (跨省), a regular
referral (规范转诊), an emergency (急诊抢救)."""
MED_TYPES: tuple[str, ...] = tuple(m.value for m in MedType)
HOSPITAL_LEVELS: tuple[int, ...] = (1, 2, 3)

PAYMENT_COLUMNS: tuple[str, ...] = ("hifp_pay", "hifmi_pay", "maf_pay", "supp_pay")
"""The four standard layer outputs, in settlement order (基本医保 → 大病保险 → 医疗救助 → 补充保险): always
in the output contract (zero where a policy has no such layer). A policy may add funds of its own
(慈善救助, 惠民保, … ``<name>_pay``: :meth:`tiers.schema.Policy.outputs`)."""


def fund_columns(columns: Iterable[object]) -> tuple[str, ...]:
    """The fund columns among a table's ``columns``, in their order: a layer's output column ends in
    ``_pay`` (the standard four and a region's own, :class:`tiers.schema.Layer`), nothing else does."""
    return tuple(str(c) for c in columns if str(c).endswith("_pay"))


CATEGORY_NAMES: dict[str, str] = {
    "tekun": "特困人员",
    "dibao": "低保对象",
    "fanpin": "返贫致贫人口",
    "dibao_edge": "低保边缘家庭成员",
    "monitored": "防止返贫监测对象",
    "illness_poverty": "因病致贫重病患者",
    "expense_hardship": "支出型困难家庭成员",
    "child_hardship": "困境儿童",
    "former_poor": "原建档立卡低收入人口",
    "general": "普通参保人",
}
"""The national names of the relief categories (a policy may name them its own way)."""

LEVEL_NAMES: dict[int, str] = {1: "一级及以下", 2: "二级", 3: "三级"}
"""The names of the hospital levels (a policy may name them its own way)."""
INSUTYPE_NAMES: dict[str, str] = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "390": "城乡居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "510": "生育保险",
}
"""The national 险种类型 (``insutype``) names of the platform's code table."""
