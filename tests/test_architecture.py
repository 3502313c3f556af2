"""House rules that keep the layout honest: dependency direction, module size, ARCHITECTURE.md."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


ENGINE_CORE = ("money", "claims", "identities", "scan", "layers", "engine", "accumulators", "explanation", "personyear",
               "caps")  # fmt: skip
"""The engine's core modules: they settle, explain and re-settle, and read or write no file."""
NOT_IN_THE_CORE = {"typer", "rich", "matplotlib", "dask", "distributed", "csv", "settlement.io", "settlement.terminal"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_run_one_way(package: str) -> None:
    for path in _modules(package):
        bad = _imports(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, by its full name and each of its parents."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        found = []
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in found:
            parts = name.split(".")
            names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return names


@pytest.mark.parametrize("module", ENGINE_CORE)
def test_the_engine_core_imports_no_terminal_chart_cluster_or_file_reader(module: str) -> None:
    bad = _imported_modules(ROOT / "settlement" / f"{module}.py") & NOT_IN_THE_CORE
    assert not bad, f"settlement/{module}.py imports {sorted(bad)}"


def test_batch_commands_start_without_the_service() -> None:
    """``medrelief settle --help`` loads neither the web framework, the database layer nor FHIR
    (nor pandas and the engine: a command imports those when it runs)."""
    probe = (
        "import sys; from api.cli import app\n"
        "try:\n    app(['settle', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    heavy = {"fastapi", "sqlalchemy", "sqlmodel", "alembic", "fhir", "uvicorn", "psycopg", "pandas", "numba"}
    assert not loaded & heavy, sorted(loaded & heavy)


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
