"""The pinned public API of ``tiers`` and ``settlement``: what a notebook or another service may
import; README's "From Python" uses nothing else."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PUBLIC = {
    "tiers": {
        "CATEGORIES", "MED_TYPES", "PAYMENT_COLUMNS", "Category", "CompiledPolicy", "MedType", "Policy", "PolicyError",
        "bundled_names", "compile_policy", "load_policy", "load_scenarios", "policy_rows", "resolve",
        "scenario_policies",
    },
    "settlement": {
        "ClaimProblem", "ClaimTable", "ClaimValidationError", "IdentityPeriods", "Resettled", "SettledBatch", "Side",
        "caps_left", "dask_client", "explain", "from_frame", "load_cohort", "read_text_table", "reconcile",
        "resettle", "settle", "simulate", "statement_totals", "with_candidates", "write_table",
    },
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_the_public_api_is_pinned_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PUBLIC[package]
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_from_python_uses_only_public_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### From Python", 1)[1]
    blocks = _python_blocks(section.split("\n## ", 1)[0])
    assert blocks, "README has a From Python example"
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and str(node.module).split(".")[0] in (*PUBLIC, "api"):
                assert node.module in PUBLIC, f"README imports from {node.module}: use tiers or settlement"
                assert {a.name for a in node.names} <= PUBLIC[str(node.module)]
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & {*PUBLIC, "api"}, "README imports a module"


def test_readme_from_python_runs(tmp_path: Path) -> None:
    """The example as written: it settles the sample claims."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = _python_blocks(readme.split("### From Python", 1)[1])[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102  (the project's own README)
