"""The application: ``create_app()`` wires settings, database, policy, errors and routes."""

from __future__ import annotations

import gc
import logging
from typing import Any

from fastapi import FastAPI

from api import docs, errors
from api.auth import RedactIdNumbers
from api.books.driver import Statement
from api.config import Settings, settings
from api.db import batch_database, migrate, open_database, pooled_transaction
from api.deps import openapi_with_hand_read_bodies
from api.queue import SettlementQueue
from api.routes import (
    cases,
    fhir,
    institutions,
    insurers,
    nhsa,
    nhsa_statements,
    persons,
    policies,
    posthoc,
    reconciliations,
    settlements,
    warnings,
)
from api.warmup import warm_up
from tiers.loader import load_policy
from tiers.tables import compile_policy

DESCRIPTION = """One-stop settlement of a hospital bill through 基本医保 → 大病保险 → 医疗救助 → 补充保险.

Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`). Money is yuan as strings with two
decimals. Errors are `application/problem+json` with `code` and `param`. Settlement and reversal take
an `Idempotency-Key` header: a retry with the same key and body replays the first response.
"""


HEALTH = Statement.of("SELECT 1")


def create_app(config: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    config = config or settings()
    if run_migrations:
        migrate(config.database_url)
    app = FastAPI(title="medrelief", version="0.1.0", description=DESCRIPTION, docs_url=None, redoc_url=None)
    docs.install(app)
    app.state.database = open_database(config.database_url)
    app.state.policy = compile_policy(load_policy(config.policy))
    app.state.batch_database = batch_database(config.database_url, app.state.database)  # the hot routes' pool
    app.state.settlements = SettlementQueue(app.state.batch_database, app.state.policy)
    warm_up(app.state.policy)
    app.state.settings = config
    errors.install(app, config.max_body_bytes, {reconciliations.router.prefix: reconciliations.MAX_BODY_BYTES})
    for module in (
        settlements,
        persons,
        policies,
        reconciliations,
        posthoc,
        insurers,
        institutions,
        nhsa,
        nhsa_statements,
        warnings,
        cases,
        fhir,
    ):
        app.include_router(module.router)
    app.include_router(cases.totals_router)
    hot = [*settlements.HOT_ROUTES, *nhsa.HOT_ROUTES, *fhir.HOT_ROUTES]
    app.router.routes[:0] = hot  # matched first; the FastAPI routes document them

    @app.get("/healthz", tags=["service"], summary="Liveness: the database answers (never waits for a writer)")
    def health() -> dict[str, str]:
        with pooled_transaction(app.state.database, read_only=True) as db:
            db.rows(HEALTH, {})
        return {"status": "ok", "policy": app.state.policy.id}

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_with_hand_read_bodies(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    logging.getLogger("medrelief.api").setLevel(logging.INFO)
    for name in ("medrelief.api", "uvicorn.error", "uvicorn.access"):  # no ID number ever reaches a log
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactIdNumbers) for f in logger.filters):
            logger.addFilter(RedactIdNumbers())
    gc.freeze()  # the policy, tables and modules loaded above are permanent: keep them out of collections
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.main:app_from_env`` (migrations already run by ``medrelief serve``)."""
    return create_app(run_migrations=False)
