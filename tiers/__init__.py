"""What the rules are: policies as data, and the code that loads, checks and compiles them.

The public API: :func:`load_policy` (a bundled name or a file → :class:`Policy`, bad files as
:class:`PolicyError` naming the file and key path), :func:`bundled_names`, :func:`compile_policy`
→ :class:`CompiledPolicy`, :func:`resolve` (the parameters in force on a date),
:func:`policy_rows` (them, readable), reforms (:func:`load_scenarios`, :func:`scenario_policies`)
and the stable codes (:data:`CATEGORIES`, :data:`MED_TYPES`, :data:`PAYMENT_COLUMNS`). Names are
imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CATEGORIES": "tiers.codes",
    "MED_TYPES": "tiers.codes",
    "PAYMENT_COLUMNS": "tiers.codes",
    "Category": "tiers.codes",
    "MedType": "tiers.codes",
    "Policy": "tiers.schema",
    "PolicyError": "tiers.loader",
    "bundled_names": "tiers.loader",
    "load_policy": "tiers.loader",
    "CompiledPolicy": "tiers.tables",
    "compile_policy": "tiers.tables",
    "resolve": "tiers.resolve",
    "policy_rows": "tiers.view",
    "load_scenarios": "tiers.reforms",
    "scenario_policies": "tiers.reforms",
}
__all__ = [
    "CATEGORIES",
    "MED_TYPES",
    "PAYMENT_COLUMNS",
    "Category",
    "CompiledPolicy",
    "MedType",
    "Policy",
    "PolicyError",
    "bundled_names",
    "compile_policy",
    "load_policy",
    "load_scenarios",
    "policy_rows",
    "resolve",
    "scenario_policies",
]

if TYPE_CHECKING:
    from tiers.codes import CATEGORIES, MED_TYPES, PAYMENT_COLUMNS, Category, MedType
    from tiers.loader import PolicyError, bundled_names, load_policy
    from tiers.reforms import load_scenarios, scenario_policies
    from tiers.resolve import resolve
    from tiers.schema import Policy
    from tiers.tables import CompiledPolicy, compile_policy
    from tiers.view import policy_rows


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tiers' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
