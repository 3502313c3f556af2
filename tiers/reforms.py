"""What-if reforms: a baseline policy and scenarios that edit a copy of it (OpenFisca's ``modify_parameters``).

A scenario file names a baseline policy and lists scenarios; each scenario is a list of
changes to the baseline's parameters::

    baseline: demo
    scenarios:
      - id: ci_plus5
        name: 大病保险 +5 points
        changes:
          - {path: "layers[critical_illness].rules[*].bands[*].ratio", add: 0.05}
      - id: no_assistance_cap
        changes:
          - {path: "layers[assistance].rules[*].cap", set: null}

A ``path`` is dot-separated keys; ``key[sel]`` picks items of a list by ``id``, by position or
all of them (``*``). ``add`` and ``multiply`` change every number of the addressed parameters
(every dated value, every hospital level); ``set`` replaces the node; ``append`` extends a list
(e.g. a rule's categories). The edited policy is validated exactly like a policy file, so a
reform that pushes a ratio above 100% fails with the scenario and key path named. The baseline
itself is always the scenario ``baseline``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tiers.loader import PolicyError, load_model, raw_policy, validate_policy
from tiers.schema import Policy

BASELINE = "baseline"
_SEGMENT = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[([^\]]+)\])?$")
_NOT_VALUES = {"from", "reference", "assumption"}


class Change(BaseModel):
    """One edit of the baseline: exactly one of ``set``, ``add``, ``multiply``, ``append``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str
    set_: Any = Field(default=None, alias="set")
    add: Decimal | None = None
    multiply: Decimal | None = None
    append: list[Any] | None = None
    reference: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_operation(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            ops = [k for k in ("set", "add", "multiply", "append") if k in raw]
            if len(ops) != 1:
                raise ValueError(f"give exactly one of set, add, multiply, append (got {ops or 'none'})")
        return raw

    @property
    def operation(self) -> str:
        fields = self.model_fields_set
        return next(op for op in ("add", "multiply", "append") if op in fields) if "set_" not in fields else "set"


class Scenario(BaseModel):
    """A named reform: changes applied to the baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str | None = None
    reference: str | None = None
    changes: tuple[Change, ...] = ()


class ScenarioSet(BaseModel):
    """A baseline policy and the scenarios to compare with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str
    reference: str | None = None
    scenarios: tuple[Scenario, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [s.id for s in self.scenarios]
        if BASELINE in ids:
            raise ValueError(f"'{BASELINE}' is implicit (the baseline policy unchanged); do not list it")
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate scenario ids in {ids}")
        return self


def load_scenarios(path: str | Path) -> ScenarioSet:
    """Read and check a scenario file (errors name the file and the key path)."""
    return load_model(ScenarioSet, path)


def scenario_policies(scenarios: ScenarioSet) -> dict[str, Policy]:
    """The baseline and every scenario as validated policies, keyed by scenario id (baseline first)."""
    _, raw = raw_policy(scenarios.baseline)
    policies = {BASELINE: validate_policy(copy.deepcopy(raw), f"{scenarios.baseline} (baseline)")}
    for scenario in scenarios.scenarios:
        policies[scenario.id] = reform(raw, scenario, scenarios.baseline)
    return policies


def reform(raw: dict[str, Any], scenario: Scenario, baseline: str) -> Policy:
    """The baseline's merged content with ``scenario``'s changes, validated as a policy."""
    edited = copy.deepcopy(raw)
    for i, change in enumerate(scenario.changes):
        where = f"scenarios[{scenario.id}].changes[{i}]"
        try:
            apply_change(edited, change)
        except ValueError as exc:
            raise PolicyError(f"scenario {scenario.id}", f"{where}.path {change.path!r}", str(exc)) from exc
    return validate_policy(edited, f"{baseline} + scenario {scenario.id}")


def apply_change(policy: dict[str, Any], change: Change) -> None:
    """Edit ``policy`` (a merged policy dict) in place; ValueError names what did not fit."""
    *parents, (key, sel) = _parse(change.path)
    if sel is not None:
        raise ValueError(f"the last segment must be a key, not {key}[{sel}]")
    edited = sum(_edit(node, key, change) for node in _walk(policy, parents))
    if not edited:
        raise ValueError("changes nothing (no parameter value at this path)")


def _parse(path: str) -> list[tuple[str, str | None]]:
    segments = []
    for part in path.split("."):
        match = _SEGMENT.match(part.strip())
        if not match:
            raise ValueError(f"{part!r} is not a key or key[id|index|*]")
        segments.append((match.group(1), match.group(2)))
    return segments


def _walk(node: Any, segments: list[tuple[str, str | None]]) -> Iterator[Any]:
    if not segments:
        yield node
        return
    (key, sel), rest = segments[0], segments[1:]
    for child in _select(_child(node, key), key, sel):
        yield from _walk(child, rest)


def _child(node: Any, key: str) -> Any:
    if not isinstance(node, dict) or key not in node:
        raise ValueError(f"no key {key!r} here")
    return node[key]


def _select(value: Any, key: str, sel: str | None) -> list[Any]:
    if sel is None:
        return [value]
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is not a list; [{sel}] cannot select from it")
    if sel == "*":
        return value
    if sel.isdigit():
        if int(sel) >= len(value):
            raise ValueError(f"{key}[{sel}]: the list has {len(value)} items")
        return [value[int(sel)]]
    found = [item for item in value if isinstance(item, dict) and item.get("id") == sel]
    if not found:
        ids = [item.get("id") for item in value if isinstance(item, dict)]
        raise ValueError(f"{key}[{sel}]: no item with that id (ids: {ids})")
    return found


def _edit(node: Any, key: str, change: Change) -> int:
    if not isinstance(node, dict):
        raise ValueError(f"cannot set {key!r} on a {type(node).__name__}")
    if change.operation == "set":
        node[key] = change.set_
        return 1
    if change.operation == "append":
        return _append(node, key, change.append or [])
    if key not in node:
        raise ValueError(f"no key {key!r} here")
    node[key], count = _numbers(node[key], _arithmetic(change))
    return count


def _append(node: dict[str, Any], key: str, items: list[Any]) -> int:
    current = node.get(key)
    if current is not None and not isinstance(current, list):
        raise ValueError(f"{key!r} is not a list; cannot append to it")
    node[key] = [*(current or []), *[i for i in items if i not in (current or [])]]
    return 1


def _arithmetic(change: Change) -> Callable[[Decimal], Decimal]:
    if change.operation == "add":
        step = change.add or Decimal(0)
        return lambda x: x + step
    factor = change.multiply if change.multiply is not None else Decimal(1)
    return lambda x: x * factor


def _numbers(value: Any, op: Callable[[Decimal], Decimal]) -> tuple[Any, int]:
    """``value`` with ``op`` applied to every number of a parameter, and how many there were."""
    if value is None:
        return None, 0
    if isinstance(value, bool):
        raise ValueError("not a number (a boolean)")
    if isinstance(value, int | float | Decimal):
        return op(Decimal(str(value))), 1
    if isinstance(value, list):
        pairs = [_numbers(v, op) for v in value]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    if isinstance(value, dict):
        pairs_by_key = {k: (_numbers(v, op) if k not in _NOT_VALUES else (v, 0)) for k, v in value.items()}
        return {k: p[0] for k, p in pairs_by_key.items()}, sum(p[1] for p in pairs_by_key.values())
    raise ValueError(f"not a parameter value: {value!r}")
