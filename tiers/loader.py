"""Policy files → validated :class:`~tiers.schema.Policy`.

Bad files fail with :class:`PolicyError` naming the file and the key path, e.g.
``demo.yaml: layers.0.rules.1.ratio.3: 1.2: a ratio must be within [0, 1]``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tiers import figures
from tiers.params import DatedValue, key_path
from tiers.resolve import check_every_version
from tiers.schema import Policy

BUNDLED = "policies"
M = TypeVar("M", bound=BaseModel)


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file and the key path."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file, self.path, self.reason = file, path, reason
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {reason}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def bundled_names() -> list[str]:
    """Names of the policies shipped in ``tiers/policies``."""
    folder = resources.files("tiers") / BUNDLED
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _locate(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    if str(name_or_path) in bundled_names():
        return Path(str(resources.files("tiers") / BUNDLED / f"{name_or_path}.yaml"))
    raise PolicyError(str(name_or_path), "", f"no such policy file or bundled policy {bundled_names()}")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise PolicyError(path.name, "", f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(path.name, "", "the top level must be a mapping")
    return data


class _MergeError(ValueError):
    def __init__(self, path: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.path = ".".join(path)


def _merge(base: Any, override: Any, path: tuple[str, ...] = ()) -> Any:
    """Deep-merge ``override`` into ``base``; lists of mappings with ``id`` merge by id, except an
    item marked ``replace: true``, which takes the place of the base's item of that id whole (a
    region's own assistance layer instead of its parent's rules), and ``{id: …, remove: true}``,
    which drops it (a parent's layer the region does not have)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value, (*path, str(key))) if key in base else value
        return merged
    if _is_id_list(base) and _is_id_list(override):
        return _merge_by_id(base, override, path)
    return copy.deepcopy(override)


def _merge_by_id(base: list[dict[str, Any]], override: list[dict[str, Any]], path: tuple[str, ...]) -> list[Any]:
    by_id = {item["id"]: item for item in base}
    for i, item in enumerate(override):
        where = (*path, str(i))
        if item.get("remove") is True:  # the parent's item is not part of this policy
            if item["id"] not in by_id or set(item) != {"id", "remove"}:
                raise _MergeError(
                    where, f"remove: the parent has no item {item['id']!r}, or more than id and remove given"
                )
            del by_id[item["id"]]
            continue
        whole = item.get("replace") is True
        item = {k: v for k, v in item.items() if k != "replace"}
        known = item["id"] in by_id
        by_id[item["id"]] = _merge(by_id[item["id"]], item, where) if known and not whole else item
    return list(by_id.values())


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "id" in i for i in value)


def _raw_policy(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise PolicyError(path.name, "extends", "circular 'extends'")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise PolicyError(path.name, "extends", "must be the name of a policy")
    base = _raw_policy(_locate_sibling(path, parent), (*seen, path))
    try:
        return dict(_merge(base, data))
    except _MergeError as exc:
        raise PolicyError(path.name, exc.path, str(exc)) from exc


def _locate_sibling(path: Path, name: str) -> Path:
    sibling = path.with_name(f"{name}.yaml")
    return sibling if sibling.exists() else _locate(name)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def load_policy(name_or_path: str | Path) -> Policy:
    """Load, merge (``extends``), validate and check a policy by bundled name or file path."""
    path, raw = raw_policy(name_or_path)
    return validate_policy(raw, path.name)


def raw_policy(name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The file of a policy and its merged (``extends``) but not yet validated content."""
    path = _locate(name_or_path)
    return path, _raw_policy(path)


def load_model(model: type[M], path: str | Path) -> M:
    """Read a YAML file (duplicate keys refused) into a pydantic ``model``; errors name file and key path."""
    file = Path(path)
    if not file.is_file():
        raise PolicyError(str(path), "", "no such file")
    try:
        return model.model_validate(read_yaml(file))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicyError(file.name, _format_loc(first["loc"]), first["msg"].removeprefix("Value error, ")) from exc


def validate_policy(raw: dict[str, Any], source: str) -> Policy:
    """Validate and check a merged policy dict; errors name ``source`` and the key path."""
    try:
        raw = figures.expand(raw)
    except figures.FigureError as exc:
        raise PolicyError(source, exc.path, str(exc)) from exc
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        message = "; ".join(
            f"{_format_loc(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in errors
        ).removeprefix(f"{_format_loc(first['loc'])}: ")
        raise PolicyError(source, _format_loc(first["loc"]), message) from exc
    _check_first_values(policy, source)
    try:
        check_every_version(policy)
    except ValueError as exc:
        key, _, reason = str(exc).partition(": ")
        raise PolicyError(source, key, reason) from exc
    return policy


def _check_first_values(policy: Policy, source: str) -> None:
    """Every dated parameter has a value from the policy's first day (else settling a claim of the
    policy's first days would find none)."""
    for path, first in _first_values(policy, ()):
        if first.from_ is not None and first.from_ > policy.valid_from:
            reason = (
                f"its first value is in force from {first.from_}, after the policy's valid_from {policy.valid_from}"
            )
            raise PolicyError(source, path, reason)


def _first_values(node: object, path: tuple[str, ...]) -> Iterator[tuple[str, DatedValue]]:
    if isinstance(node, tuple) and node and all(isinstance(v, DatedValue) for v in node):
        yield ".".join(path), node[0]
    elif isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            yield from _first_values(getattr(node, name), (*path, field.alias or name))
    elif isinstance(node, tuple | list):
        for i, item in enumerate(node):
            yield from _first_values(item, (*path, str(i)))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from _first_values(item, (*path, *key_path(key)))
