"""Every FHIR resource the service returns, checked three ways: ``fhir.resources`` (R4B models), an
independent validator from another ecosystem (the ``fhir`` npm package's JSON-schema validation,
``tests/fhir_validator``; installed with ``npm ci`` on first use), and the rules a consumer relies
on that neither checks: no empty array, object or string, and no coding without a system."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

VALIDATOR = Path(__file__).parents[1] / "fhir_validator"


@cache
def _node() -> str:
    """The node binary, with the validator's packages installed (skipped loudly where there is no
    Node.js, failed instead under CI: ``MEDRELIEF_REQUIRE_POSTGRES=1`` marks the full run)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        reason = "Node.js/npm not found: the independent FHIR validator cannot run"
        if os.environ.get("MEDRELIEF_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    if not (VALIDATOR / "node_modules" / "fhir").exists():
        subprocess.run([npm, "ci", "--silent", "--prefix", str(VALIDATOR)], check=True, timeout=600)
    return node


def _blemishes(value: Any, path: str = "") -> list[str]:
    """Empty arrays, objects or strings, and codings without a system, by their path."""
    if isinstance(value, dict):
        found = [f"{path}: empty object"] if not value else []
        if re.search(r"coding\[\d+\]$", path) and "system" not in value:
            found.append(f"{path}: a code without a system")
        return found + [b for k, v in value.items() for b in _blemishes(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return ([f"{path}: empty array"] if not value else []) + [
            b for i, v in enumerate(value) for b in _blemishes(v, f"{path}[{i}]")
        ]
    return [f"{path}: empty string"] if value == "" else []


def validate(*resources: dict[str, Any]) -> None:
    """Assert every resource is valid FHIR R4 three ways (see the module's text)."""
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert not _blemishes(resource), _blemishes(resource)
    done = subprocess.run(
        [_node(), str(VALIDATOR / "validate.js")], input=json.dumps(list(resources)), capture_output=True,
        text=True, check=True, timeout=120,
    )  # fmt: skip
    for resource, result in zip(resources, json.loads(done.stdout), strict=True):
        assert result["valid"], (resource["resourceType"], result["messages"])
