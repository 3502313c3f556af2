"""FHIR R4: ``POST /fhir/Claim`` (and ``$submit``) → ClaimResponse; ``GET /fhir/ExplanationOfBenefit/{id}``.

``use = claim`` settles (like the native settle, ``Idempotency-Key`` honoured), ``predetermination``
pre-settles (nothing stored). Errors are OperationOutcome resources (see :mod:`api.errors`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from api import service, store
from api.caps import caps_left
from api.deps import CallerDep, IdempotencyKey, PolicyDep, SessionDep, SetlId, WriteSessionDep, writing
from api.errors import Problem
from api.fhir import ClaimError, claim_in, claim_response, explanation_of_benefit, read_claim
from api.models import Settlement
from api.schemas import SettlementOut

router = APIRouter(prefix="/fhir", tags=["fhir"])
FHIR_JSON = "application/fhir+json"


def _resource(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=FHIR_JSON)


@router.post("/Claim", response_class=Response, summary="Submit a Claim (use claim: settle; predetermination: trial)")
@router.post("/Claim/$submit", response_class=Response, summary="The $submit operation: same as POST /fhir/Claim")
def submit(
    body: Annotated[dict[str, Any], Body(media_type=FHIR_JSON)],
    session: WriteSessionDep,
    caller: CallerDep,
    policy: PolicyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    caller.require("settle")
    try:
        claim = read_claim(body)
        native = claim_in(claim)
    except ClaimError as exc:
        raise Problem(422, "invalid_claim", str(exc), exc.param) from exc
    with writing(session):
        if claim.use == "predetermination":
            return _resource(claim_response(claim, service.pre_settle(session, caller, native, policy)))
        if claim.use != "claim":
            reason = f"Claim.use {claim.use!r}: only claim and predetermination"
            raise Problem(422, "unsupported_use", reason, "Claim.use")
        done = service.settle(session, caller, native, policy, idempotency_key)
    return _resource(claim_response(claim, SettlementOut.model_validate_json(done.body)), done.status)


@router.get(
    "/ExplanationOfBenefit/{setl_id}", response_class=Response, summary="A settlement as an ExplanationOfBenefit"
)
def explanation(setl_id: SetlId, session: SessionDep, caller: CallerDep, policy: PolicyDep) -> Response:
    row = session.get(Settlement, setl_id)
    if row is None or not caller.may_read(row.institution_id):
        raise Problem(404, "settlement_not_found", f"no settlement {setl_id}", "setl_id")
    out = store.settlement_out(row, store.lines_of(session, setl_id), store.adjustments_of(session, setl_id))
    categories = store.categories_on(session, row.person_id, row.settle_date)
    rows = store.accumulator_rows(session, row.person_id, row.year)
    caps = caps_left(policy, row.person_id, row.year, row.settle_date, categories, rows)
    return _resource(explanation_of_benefit(out, caps, row.institution_id))
