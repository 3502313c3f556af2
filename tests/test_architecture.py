"""House rules that keep the layout honest: dependency direction, module size, ARCHITECTURE.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = {
    "tiers": {"settlement", "api", "fastapi", "sqlmodel", "sqlalchemy", "starlette", "psycopg", "psycopg2"},
    "settlement": {"api", "fastapi", "sqlmodel", "sqlalchemy", "starlette", "psycopg", "psycopg2"},
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_run_one_way(package: str) -> None:
    for path in _modules(package):
        bad = _imports(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_no_row_wise_pandas_in_settlement() -> None:
    for path in _modules("settlement"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\.(iterrows|itertuples|apply)\(", text), path.name


def test_modules_stay_small() -> None:
    for package in ("tiers", "settlement", "api"):
        for path in _modules(package):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines"


def test_architecture_md_lists_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    listed = set(re.findall(r"`((?:tiers|settlement|api)/[a-z_/]+\.py)`", text))
    actual = {
        str(p.relative_to(ROOT))
        for pkg in ("tiers", "settlement", "api")
        for p in _modules(pkg)
        if p.name != "__init__.py" and "migrations" not in p.parts
    }
    assert listed == actual
