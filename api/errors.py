"""One error envelope for every 4xx/5xx: RFC 9457 ``application/problem+json`` with ``code`` and ``param``.

``{"type": "https://medrelief.dev/problems/<code>", "title": …, "status": …, "detail": …,
"code": "<code>", "param": "<field path or null>"}``; validation errors also list every
``errors[{param, reason}]``. Requests in the platform's envelope (``POST /nhsa``) get its shape
instead: ``infcode = -1`` and ``err_msg``; FHIR requests (``/fhir/…``) an OperationOutcome.
Nothing else in ``api/`` builds an error response. :class:`BodyLimit` refuses a request body
over its limit (413) before it is read.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.nhsa import envelope_bytes
from settlement.accumulators import AccumulatorError
from settlement.claims import ClaimValidationError

log = logging.getLogger("medrelief.api")
MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    413: "Content too large", 503: "Service unavailable",
}  # fmt: skip


class Problem(Exception):
    """An error the client should see: HTTP status, stable ``code``, the offending ``param``, and
    members of its own (``extra``: e.g. the existing ``setl_id`` of an ``already_settled``)."""

    def __init__(self, status: int, code: str, detail: str, param: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.param, self.extra = status, code, detail, param, extra


def problem_body(status: int, code: str, detail: str, param: str | None = None, **extra: Any) -> dict[str, Any]:
    title = TITLES.get(status, "Conflict" if status == 409 else "Unprocessable request" if status == 422 else "Error")
    body = {
        "type": f"https://medrelief.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "param": param,
    }
    return {**body, **extra}


def problem_response(status: int, code: str, detail: str, param: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, code, detail, param, **extra), status_code=status, media_type=MEDIA_TYPE)


def _param(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def _platform(request: Request) -> bool:
    """Requests in the platform's envelope (``POST /nhsa``) get its error shape, not problem+json."""
    return request.url.path == "/nhsa"


def _fhir(request: Request) -> bool:
    return request.url.path.startswith("/fhir/")


FHIR_CODES = {401: "security", 403: "security", 404: "not-found", 409: "conflict", 422: "invalid", 500: "exception"}


def _outcome(status: int, detail: str, param: str | None) -> JSONResponse:
    """A FHIR OperationOutcome for requests under ``/fhir/``."""
    issue: dict[str, Any] = {"severity": "error", "code": FHIR_CODES.get(status, "processing"), "diagnostics": detail}
    if param:
        issue["expression"] = [param]
    body = {"resourceType": "OperationOutcome", "issue": [issue]}
    return JSONResponse(body, status_code=status, media_type="application/fhir+json")


def _envelope_error(status: int, message: str) -> Response:
    kept = status in (401, 403, 405, 500, 503)
    return Response(
        envelope_bytes(None, None, message), status_code=status if kept else 200, media_type="application/json"
    )


def _respond(request: Request, status: int, code: str, detail: str, param: str | None = None, **extra: Any) -> Response:
    """The error in the request's own envelope: the platform's, FHIR's, or problem+json."""
    if _platform(request):
        return _envelope_error(status, f"{code}: {detail}")
    if _fhir(request):
        return _outcome(status, f"{code}: {detail}", param)
    return problem_response(status, code, detail, param, **extra)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return _respond(request, exc.status, exc.code, exc.detail, exc.param, **exc.extra)


async def _on_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"param": _param(tuple(e.get("loc", ()))), "reason": str(e.get("msg", ""))} for e in exc.errors()]
    first = errors[0] if errors else {"param": None, "reason": "invalid request"}
    detail = f"{first['param']}: {first['reason']}" if first["param"] else str(first["reason"])
    return _respond(_request, 422, "invalid_request", detail, first["param"], errors=errors)


async def _on_claims(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClaimValidationError)
    errors = [{"param": p.field, "reason": p.reason} for p in exc.problems]
    first = exc.problems[0]
    return _respond(request, 422, "invalid_claim", str(first), first.field, errors=errors)


async def _on_accumulators(request: Request, exc: Exception) -> Response:
    log.error("stored accumulators refused by the engine: %s", exc)
    return _respond(request, 500, "internal_error", "stored accumulators are inconsistent; nothing was changed")


async def _on_http(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "content_too_large"}
    code = codes.get(exc.status_code, "http_error")
    return _respond(_request, exc.status_code, code, str(exc.detail))


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)
"""The database unreachable, restarted or locked too long (through SQLAlchemy or the driver)."""


BUSY: tuple[type[Exception], ...] = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)
"""A lock or statement timeout: the transaction was refused before it could commit."""


async def _on_database(request: Request, exc: Exception) -> Response:
    log.error("database unavailable: %s", exc)
    if isinstance(exc, BUSY):
        detail = "the database is busy with this person (a lock or statement timeout); nothing was changed — retry"
        return _respond(request, 503, "database_busy", detail)
    detail = (
        "the database did not answer: the request may or may not have been recorded — retry with the same "
        "Idempotency-Key (a retry replays it if it was)"
    )
    return _respond(request, 503, "database_unavailable", detail)


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return _respond(_request, 500, "internal_error", "unexpected error; nothing was changed")


def _too_large(limit: int, length: int | None = None) -> StarletteHTTPException:
    """413, as an HTTPException: FastAPI re-raises that from reading a body (any other error there becomes its 400)."""
    size = f"is {length:,} bytes" if length is not None else "is longer"
    return StarletteHTTPException(413, f"the request body {size}; at most {limit:,} bytes are accepted here")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """Refuse a request body over its path's limit (413 ``content_too_large``, in the request's
    envelope) instead of reading a body of any size into memory: a ``Content-Length`` above it
    before anything is read; a body sent without one (chunked) as soon as it is longer."""

    def __init__(self, app: ASGIApp, default: int, larger: dict[str, int]) -> None:
        self.app, self.default, self.larger = app, default, larger

    def limit(self, path: str) -> int:
        """The limit of ``path``: the default, or a larger one for the paths under a prefix."""
        return next((limit for prefix, limit in self.larger.items() if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, length = self.limit(scope["path"]), _content_length(scope)
        if length is not None and length > limit:
            response = await _on_http(Request(scope), _too_large(limit, length))
            await response(scope, receive, send)
            return
        # with a Content-Length the server delivers no more than it says
        await self.app(scope, receive if length is not None else _counted(receive, limit), send)


def _counted(receive: Receive, limit: int) -> Receive:
    read = 0

    async def counted() -> Message:
        nonlocal read
        message = await receive()
        read += len(message.get("body", b""))
        if read > limit:
            raise _too_large(limit)
        return message

    return counted


def install(app: FastAPI, max_body: int, larger_bodies: dict[str, int]) -> None:
    """The error handlers, and the body limits (:class:`BodyLimit`)."""
    app.add_middleware(BodyLimit, default=max_body, larger=larger_bodies)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ClaimValidationError, _on_claims)
    app.add_exception_handler(AccumulatorError, _on_accumulators)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)
