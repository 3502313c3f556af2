"""Schemathesis against the OpenAPI schema, on a real server of each database: no 500 on any
generated body, and every error in its one shape.

problem+json everywhere, except the standard interfaces: an OperationOutcome under ``/fhir/`` and
the platform envelope (``infcode = -1``) on ``/nhsa``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case

from api.config import Settings
from api.main import create_app
from tests.api.servers import Server

_DB = Path(tempfile.mkdtemp(prefix="medrelief-st-")) / "schemathesis.db"
schema = schemathesis.openapi.from_dict(create_app(Settings(database_url=f"sqlite:///{_DB}")).openapi())
"""The schema as the app writes it — read without starting the app: an app served in this process
(``from_asgi``) would run its lifespan, its background tasks and a thread pool here for the rest of
the run, beside every later test; the calls go to the real servers anyway."""


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("MEDRELIEF_SCHEMATHESIS_EXAMPLES", "40")), suppress_health_check=list(HealthCheck)
)
def test_no_server_error_and_one_error_envelope(case: Case, server: Server) -> None:  # type: ignore[type-arg]
    response = case.call_and_validate(
        base_url=server.base_url, headers=server.headers("admin"), checks=[not_a_server_error]
    )
    if case.path == "/nhsa":
        assert response.json().get("infcode") in (0, -1), response.text
        return
    if response.status_code >= 400 and case.path.startswith("/fhir/"):
        assert response.json()["resourceType"] == "OperationOutcome", response.text
        return
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json"), response.text
        body = response.json()
        assert {"type", "title", "status", "detail", "code", "param"} <= set(body), body
        assert body["status"] == response.status_code
