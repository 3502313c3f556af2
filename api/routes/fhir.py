"""FHIR R4: ``POST /fhir/Claim`` (and ``$submit``) → ClaimResponse; ``GET /fhir/ExplanationOfBenefit/{id}``;
``GET /fhir/metadata`` the CapabilityStatement standard clients read before their first call (HAPI's
client does by default), without a key.

A translator onto the desk: ``use = claim`` settles (like the native settle, through the same
group commit, ``Idempotency-Key`` honoured), ``predetermination`` pre-settles (nothing stored).
Errors are OperationOutcome resources (see :mod:`api.errors`).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.routing import Route

from api import desk
from api.books import queries
from api.db import pooled_transaction
from api.deps import CallerDep, PolicyDep, ReaderDep, SetlId, caller_of, idempotency_key_of, json_of
from api.errors import Problem
from api.fhir import (
    ClaimError,
    claim_in,
    claim_response,
    explanation_of_benefit,
    read_claim,
    request_text,
    resource_bytes,
)
from api.idempotency import claimed, request_hash
from api.routes.persons import accumulators_out

router = APIRouter(prefix="/fhir", tags=["fhir"])
FHIR_JSON = "application/fhir+json"
SUBMIT = {"requestBody": {"required": True, "content": {FHIR_JSON: {"schema": {"type": "object"}}}}}


@router.post(
    "/Claim", response_class=Response, openapi_extra=SUBMIT,
    summary="Submit a Claim (use claim: settle; predetermination: trial)",
)  # fmt: skip
@router.post(
    "/Claim/$submit",
    response_class=Response,
    openapi_extra=SUBMIT,
    summary="The $submit operation: same as POST /fhir/Claim",
)
async def submit(request: Request) -> Response:
    caller, key = caller_of(request), idempotency_key_of(request)
    caller.require("settle")
    policy = request.app.state.policy
    raw = await json_of(request)
    try:
        claim = read_claim(raw)
        native_claim = claim_in(claim)
    except ClaimError as exc:
        raise Problem(422, "invalid_claim", str(exc), exc.param) from exc
    if claim.use not in ("claim", "predetermination"):
        raise Problem(422, "unsupported_use", f"Claim.use {claim.use!r}: only claim and predetermination", "Claim.use")
    facts = desk.check_claim(native_claim, policy, caller)

    def render(settled: desk.Settled) -> bytes:
        return resource_bytes(claim_response(claim, settled.values, settled.lines, settled.warnings))

    digest = request_hash("fhir-submit", request_text(claim, native_claim))
    command = desk.SettleCommand(caller, facts, render, key, digest)
    if claim.use == "predetermination":
        with pooled_transaction(request.app.state.batch_database, read_only=True) as db:
            (done,) = desk.pre_settle_commands(db, [command], policy)
        if isinstance(done, Problem):
            raise done
        return Response(render(done), media_type=FHIR_JSON)
    with claimed(caller.institution_id, key):
        reply = await request.app.state.settlements.settle(command)
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(reply.body, status_code=reply.status, media_type=FHIR_JSON, headers=headers)


HOT_ROUTES = [Route(path, submit, methods=["POST"]) for path in ("/fhir/Claim", "/fhir/Claim/$submit")]
"""The Claim submission as plain Starlette routes in front of FastAPI's router (which documents them)."""


@router.get(
    "/ExplanationOfBenefit/{setl_id}", response_class=Response, summary="A settlement as an ExplanationOfBenefit"
)
def explanation(setl_id: SetlId, db: ReaderDep, caller: CallerDep, policy: PolicyDep) -> Response:
    row = queries.settlement(db, setl_id=setl_id)
    if row is None or not caller.may_read(row["institution_id"]):
        raise Problem(404, "settlement_not_found", f"no settlement {setl_id}", "setl_id")
    caps = accumulators_out(db, policy, row["person_id"], row["year"], row["settle_date"])
    eob = explanation_of_benefit(row, queries.lines(db, setl_id=setl_id), caps, row["institution_id"])
    return Response(resource_bytes(eob), media_type=FHIR_JSON)


def capability_statement() -> dict[str, Any]:
    """What this server offers, as FHIR R4 states it (``CapabilityStatement``, kind instance)."""
    read = [{"code": "read"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-06",
        "kind": "instance",
        "software": {"name": "medrelief", "version": version("medrelief")},
        "implementation": {"description": "medrelief: 基本医保 → 大病保险 → 医疗救助 → 补充保险 settlement"},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {"description": "An API key: Authorization: Bearer mr_… or X-API-Key"},
                "resource": [
                    {
                        "type": "Claim",
                        "interaction": [{"code": "create"}],
                        "operation": [
                            {"name": "submit", "definition": "http://hl7.org/fhir/OperationDefinition/Claim-submit"}
                        ],
                    },
                    {"type": "ExplanationOfBenefit", "interaction": read},
                ],
            }
        ],
    }


@router.get("/metadata", response_class=Response, summary="The CapabilityStatement (no key needed)")
def metadata() -> Response:
    return Response(resource_bytes(capability_statement()), media_type=FHIR_JSON)
