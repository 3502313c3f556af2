"""FastAPI dependencies: a reading transaction per request, the authenticated caller, the policy;
the hot routes' caller, Idempotency-Key and body read by hand, with their OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

from api.auth import Caller, authenticate, recently_verified
from api.books.driver import Driver
from api.db import pooled_transaction
from api.jsonbody import JsonBodyError, read_json
from api.schemas import NO_CONTROL
from tiers.tables import CompiledPolicy

T = TypeVar("T")


def _reader(request: Request) -> Iterator[Driver]:
    # sync: it runs in the threadpool with the endpoint (a read on PostgreSQL waits for the network)
    with pooled_transaction(request.app.state.database, read_only=True) as db:
        yield db


ReaderDep = Annotated[Driver, Depends(_reader)]
"""A reading transaction (SQLite: a deferred one, never waiting for writers), rolled back after."""


def _presented(authorization: str | None, x_api_key: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return x_api_key


def _verified(request: Request, presented: str | None) -> Caller:
    caller = recently_verified(presented)
    if caller is None:  # the database is asked at most every few seconds per key
        with pooled_transaction(request.app.state.database, read_only=True) as db:
            caller = authenticate(db, presented)
    return caller


async def _caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Caller:
    return _verified(request, _presented(authorization, x_api_key))


CallerDep = Annotated[Caller, Depends(_caller)]
KEY_RULES: dict[str, Any] = {"max_length": 128, "pattern": r"^[\x21-\x7e]+$"}
"""What an Idempotency-Key may be: 1–128 printable ASCII characters, no spaces."""
_KEY = TypeAdapter(Annotated[str, StringConstraints(**KEY_RULES)])


def caller_of(request: Request) -> Caller:
    """:data:`CallerDep`, read by hand (see :func:`hand_read`)."""
    headers = request.headers
    return _verified(request, _presented(headers.get("authorization"), headers.get("x-api-key")))


def idempotency_key_of(request: Request) -> str | None:
    """:data:`IdempotencyKey`, read by hand and checked the same way (422 naming the header)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    try:
        return _KEY.validate_python(key)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("header", "Idempotency-Key", *e["loc"])} for e in error.errors()]
        ) from error


Model = TypeVar("Model", bound=BaseModel)


async def json_of(request: Request) -> Any:
    """A request's JSON body (:func:`api.jsonbody.read_json`: duplicate keys refused, numbers
    exact), read by hand; an unreadable body is a 422 naming what is wrong."""
    try:
        return read_json(await request.body())
    except JsonBodyError as error:
        raise RequestValidationError([{"loc": ("body", *error.path), "msg": error.reason, "type": "json"}]) from error


async def body_of(request: Request, model: type[Model]) -> Model:
    """A JSON request body as ``model``, read by hand (after the caller: 401 before 422, as with
    FastAPI's own body parameters); errors name the field as FastAPI's do."""
    raw = await json_of(request)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from error


def _header(name: str, description: str = "", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


HAND_READ: list[type[BaseModel]] = []
"""The models of the bodies read by hand: their schemas are added to the OpenAPI components
(:func:`openapi_with_hand_read_bodies`), since no FastAPI parameter names them."""


def hand_read(body: type[BaseModel], *, idempotency_key: bool = True, caller_headers: bool = True) -> dict[str, Any]:
    """OpenAPI of a route that reads its body (and, with ``caller_headers``, its caller and
    ``idempotency_key`` Idempotency-Key) by hand: the hot routes, where FastAPI's header
    parameters cost per request (``benchmarks/README.md``), and bodies read strictly
    (:func:`json_of`)."""
    if body not in HAND_READ:
        HAND_READ.append(body)
    schema = {"$ref": f"#/components/schemas/{body.__name__}"}
    invalid = {"description": "Invalid request: application/problem+json naming the field (`param`)"}
    parameters = (HEADERS if idempotency_key else HEADERS[1:]) if caller_headers else []
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "parameters": parameters,
        "responses": {"422": invalid},
    }


def openapi_with_hand_read_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the components of :data:`HAND_READ` (and the models they refer to)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in HAND_READ:
        own = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(own.pop("$defs", {}))
        components[model.__name__] = own
    return schema


HEADERS: list[dict[str, Any]] = [
    _header("Idempotency-Key", "Retry-safe key", type="string", maxLength=128, pattern=KEY_RULES["pattern"]),
    _header("authorization", "Bearer <API key>", type="string"),
    _header("x-api-key", "API key (instead of Authorization)", type="string"),
]


async def _policy(request: Request) -> CompiledPolicy:
    policy: CompiledPolicy = request.app.state.policy
    return policy


PolicyDep = Annotated[CompiledPolicy, Depends(_policy)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="Retry-safe key", **KEY_RULES)]
PersonId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_CONTROL)]
SetlId = Annotated[str, Path(min_length=1, max_length=40, pattern=NO_CONTROL)]
IdentityId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Year = Annotated[int, Path(ge=1900, le=2200)]
