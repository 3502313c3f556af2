"""What a person reads instead of the engine's ids: the policy's names of categories, visit types,
hospital levels, fund layers and rules (低保对象, 普通住院, 三级, 城乡居民基本医疗保险基金, 门诊特殊病).

Every document a person reads — the settlement slip first — names things through :class:`Names`,
so a region's file decides what its people see; the national names are the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiers.codes import CATEGORY_NAMES, INSUTYPE_NAMES, LEVEL_NAMES
from tiers.schema import Policy


@dataclass(frozen=True)
class Names:
    """The names a policy gives to the codes of one settlement's documents."""

    policy: Policy

    def category(self, code: str) -> str:
        """低保对象 for ``dibao`` (the policy's own name first)."""
        own = {str(k): v for k, v in self.policy.category_names.items()}
        return own.get(code) or CATEGORY_NAMES.get(code, code)

    def visit_type(self, code: str) -> str:
        """普通住院 for ``21``, 急诊留观 for a region's ``13``."""
        return self.policy.visit_type_name(code)

    def insurance_type(self, code: str) -> str:
        """城乡居民基本医疗保险 for ``390`` (the platform's 险种类型 names)."""
        return INSUTYPE_NAMES.get(code, code)

    def level(self, level: int) -> str:
        """三级 for 3."""
        declared = self.policy.hospital_tiers.get(level)
        return declared.name if declared else LEVEL_NAMES.get(level, str(level))

    def layer(self, output: str) -> str:
        """The layer's name (基本医保统筹基金) for its output column."""
        layer = self.policy.layer(output) or next((p for p in self.policy.post_hoc if p.output == output), None)
        return layer.name if layer else output

    def fund(self, output: str) -> str:
        """The fund a hospital or a statement names (the layer's ``fund_pay_type_name``, else its name)."""
        layer = self.policy.layer(output)
        return (layer.fund_pay_type_name or layer.name) if layer else self.layer(output)

    def rule(self, layer_id: str, rule_id: str) -> str:
        """The rule's ``name`` (门诊特殊病), else its id."""
        for layer in (*self.policy.layers, *self.policy.post_hoc):
            if layer.id == layer_id:
                rule = next((r for r in layer.rules if r.id == rule_id), None)
                return (rule.name or rule.id) if rule else rule_id
        return rule_id
