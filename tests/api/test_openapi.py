"""The OpenAPI schema is whole: valid (openapi-spec-validator), every ``$ref`` resolves, and a client
generated from it (openapi-python-client) settles a claim against a real server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from api.config import Settings
from api.main import create_app
from tests.api.helpers import claim, register
from tests.api.servers import Server


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(Settings(database_url=f"sqlite:///{tempfile.mkdtemp()}/a.db")).openapi()
    return schema


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_schema_is_valid_and_every_reference_resolves() -> None:
    schema = _schema()
    validate(schema)
    components = schema["components"]["schemas"]
    missing = sorted({r for r in _refs(schema) if r.removeprefix("#/components/schemas/") not in components})
    assert missing == []
    body = schema["paths"]["/v1/settlements"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert components[body["$ref"].rsplit("/", 1)[1]]["properties"]["medfee_sumamt"]


def test_a_generated_client_settles_a_claim(server: Server, tmp_path: Path) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(_schema()), encoding="utf-8")
    generator = shutil.which("openapi-python-client") or str(Path(sys.executable).with_name("openapi-python-client"))
    done = subprocess.run(
        [generator, "generate", "--path", "openapi.json", "--meta", "none", "--output-path", "medrelief_client"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Endpoint will not be generated" not in done.stdout + done.stderr, done.stdout
    with server.client("admin") as admin:
        person = register(admin)
    script = f"""
import json, sys
from medrelief_client import AuthenticatedClient
from medrelief_client.api.settlements import post_settlement_v1_settlements_post as settle
from medrelief_client.models import ClaimIn
client = AuthenticatedClient(base_url={server.base_url!r}, token={server.keys["hospital"]!r})
answer = settle.sync_detailed(client=client, body=ClaimIn.from_dict(json.loads(sys.argv[1])))
print(answer.status_code.value, json.loads(answer.content)["psn_part_amt"])
"""
    run = subprocess.run([sys.executable, "-c", script, json.dumps(claim(person))], cwd=tmp_path,
                         capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["201", "1020.43"]


def test_the_docs_page_and_its_assets_come_from_the_service(server: Server) -> None:
    """/docs renders on a closed network: every script and stylesheet it loads is served here."""
    import re

    import httpx

    with httpx.Client(base_url=server.base_url) as anonymous:
        page = anonymous.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        assert {"/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"} <= set(assets)
        assert not [a for a in assets if a.startswith("http")], assets  # nothing from a CDN
        for asset in assets:
            assert anonymous.get(asset).status_code == 200, asset
        assert anonymous.get("/openapi.json").json()["info"]["title"] == "medrelief"
