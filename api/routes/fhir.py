"""FHIR R4: ``POST /fhir/Claim`` (and ``$submit``) → ClaimResponse; ``GET /fhir/ExplanationOfBenefit/{id}``.

A translator onto the desk: ``use = claim`` settles (like the native settle, through the same
group commit, ``Idempotency-Key`` honoured), ``predetermination`` pre-settles (nothing stored).
Errors are OperationOutcome resources (see :mod:`api.errors`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from api import desk, native
from api.books import queries
from api.db import pooled_transaction
from api.deps import CallerDep, PolicyDep, ReaderDep, SetlId, caller_of, idempotency_key_of, json_of
from api.errors import Problem
from api.fhir import ClaimError, claim_in, claim_response, explanation_of_benefit, read_claim
from api.idempotency import claimed, request_hash
from api.routes.persons import accumulators_out
from api.routes.settlements import stored

router = APIRouter(prefix="/fhir", tags=["fhir"])
FHIR_JSON = "application/fhir+json"
SUBMIT = {"requestBody": {"required": True, "content": {FHIR_JSON: {"schema": {"type": "object"}}}}}


def _resource(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=FHIR_JSON)


def _bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


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
    facts = desk.check_claim(native_claim, desk.today(policy))

    def render(settled: desk.Settled) -> bytes:
        return _bytes(claim_response(claim, native.settlement_out(settled.values, settled.lines, [])))

    digest = request_hash("fhir-submit", json.dumps(raw, sort_keys=True, default=str))
    command = desk.SettleCommand(caller, facts, render, key, digest)
    if claim.use == "predetermination":
        with pooled_transaction(request.app.state.batch_database, read_only=True) as db:
            (done,) = desk.pre_settle(db, [command], policy)
        if isinstance(done, Problem):
            raise done
        return Response(render(done), media_type=FHIR_JSON)
    with claimed(caller.institution_id, key):
        reply = await request.app.state.settlements.settle(command)
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(reply.body, status_code=reply.status, media_type=FHIR_JSON, headers=headers)


@router.get(
    "/ExplanationOfBenefit/{setl_id}", response_class=Response, summary="A settlement as an ExplanationOfBenefit"
)
def explanation(setl_id: SetlId, db: ReaderDep, caller: CallerDep, policy: PolicyDep) -> Response:
    out = stored(db, caller, setl_id)
    row = queries.settlement(db, setl_id=setl_id)
    assert row is not None
    caps = accumulators_out(db, policy, row["person_id"], row["year"], row["settle_date"])
    return _resource(explanation_of_benefit(out, caps, row["institution_id"]))
