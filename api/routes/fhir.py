"""FHIR R4: ``POST /fhir/Claim`` (and ``$submit``) → ClaimResponse; ``GET /fhir/ExplanationOfBenefit/{id}``;
``GET /fhir/metadata`` the CapabilityStatement standard clients read before their first call (HAPI's
client does by default), without a key.

A translator onto the desk: ``use = claim`` settles (like the native settle, through the same
group commit, ``Idempotency-Key`` honoured), ``predetermination`` pre-settles (nothing stored).
Errors are OperationOutcome resources (see :mod:`api.errors`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.metadata import version
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request, Response
from starlette.routing import Route

from api import desk
from api.auth import Caller
from api.books import details, queries
from api.db import pooled_transaction
from api.deps import CallerDep, PolicyDep, ReaderDep, SetlId, caller_of, idempotency_key_of, json_of
from api.errors import Problem
from api.fhir import ClaimError, Classified, bill_items, catalogued, claim_day, claim_in, read_claim, request_text
from api.fhir_output import (
    claim_response,
    explanation_of_benefit,
    focal_coverage,
    resource_bytes,
    stored_claim,
    submitted_claim,
)
from api.fhir_reply import answering, response_json
from api.fhir_submit import Submitted, patient_of, provider_of, unwrap
from api.idempotency import claimed, request_hash
from api.jsonbody import write_json
from settlement.catalogue import classify
from tiers.tables import CompiledPolicy
from tiers.vocabulary import Names

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
    raw, body = await json_of(request), await request.body()
    submitted = _submission(raw)
    if submitted.claim.get("use") == "predetermination":  # checked with the rest of the Claim
        command = _command(request, caller, key, submitted, (raw, body))
        with pooled_transaction(request.app.state.batch_database, read_only=True) as db:
            (done,) = desk.pre_settle_commands(db, [command], request.app.state.policy)
        if isinstance(done, Problem):
            raise done
        return Response(command.render(done), media_type=FHIR_JSON)
    with claimed(caller.institution_id, key):
        reply = await request.app.state.settlements.settle(
            lambda: _command(request, caller, key, submitted, (raw, body))
        )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    created = _CREATED.match(reply.body) if reply.status == 201 else None
    if created:
        headers["Location"] = f"{_base_url(request)}fhir/ClaimResponse/{created.group(1).decode()}"
    return Response(reply.body, status_code=reply.status, media_type=FHIR_JSON, headers=headers)


def _submission(raw: Any) -> Submitted:
    """The Claim of a submission in any of its forms (:func:`api.fhir_submit.unwrap`), not yet checked."""
    try:
        return unwrap(raw)
    except ClaimError as exc:
        raise Problem(422, "invalid_claim", str(exc), exc.param) from exc


def _command(
    request: Request, caller: Caller, key: str | None, submitted: Submitted, sent: tuple[Any, bytes]
) -> desk.SettleCommand:
    """The desk's command of a submission (``sent``: its JSON and its bytes), for a Claim whose
    ``use`` is claim or predetermination. Its answer keeps only what it repeats of the Claim
    (:func:`answering`): the submitted resource is not held while its batch settles."""
    policy = request.app.state.policy
    raw, body = sent
    try:
        claim = read_claim(submitted.claim)
        named = patient_of(submitted)
        provider = provider_of(submitted)
    except ClaimError as exc:
        raise Problem(422, "invalid_claim", str(exc), exc.param) from exc
    if provider is not None and provider != caller.institution_id:
        detail = f"the Claim's provider {provider} is not the institution of this key ({caller.institution_id})"
        raise Problem(403, "provider_mismatch", detail, "Claim.provider")
    person = named[1] if named[0] == "person" else _person_by_id_number(request, named[1])
    try:
        items = bill_items(claim)
        listed = catalogued(claim, items, claim_day(claim))
        classified = _classified(request, listed) if listed else {}
        native_claim = claim_in(claim, person, items, classified)
        answer = answering(claim, items, classified)
    except ClaimError as exc:
        raise Problem(422, "invalid_claim", str(exc), exc.param) from exc
    if claim["use"] not in ("claim", "predetermination"):
        detail = f"Claim.use {claim['use']!r}: only claim and predetermination"
        raise Problem(422, "unsupported_use", detail, "Claim.use")
    facts = desk.check_claim(native_claim, policy, caller)
    funds = fund_names(policy)

    def render(settled: desk.Settled) -> bytes:
        return response_json(answer, settled.values, settled.lines, funds, settled.warnings)

    digest = request_hash("fhir-submit", request_text(claim, native_claim, items))
    document = ("fhir", body if submitted.claim is raw else write_json(submitted.claim))  # a Claim: as it came
    return desk.SettleCommand(caller, facts, render, key, digest, submitted=document)


def _base_url(request: Request) -> str:
    """``request.base_url``, worked out once per scheme, host and root path (Starlette builds it
    anew on every call)."""
    scope = request.scope
    server = tuple(scope["server"]) if scope.get("server") else None
    return _base_of(scope["scheme"], request.headers.get("host"), server, scope.get("root_path", ""))


@lru_cache(maxsize=64)
def _base_of(scheme: str, host: str | None, server: tuple[Any, ...] | None, root_path: str) -> str:
    headers = [(b"host", host.encode("latin-1"))] if host is not None else []
    scope = {"type": "http", "scheme": scheme, "server": server, "root_path": root_path, "path": "/"}
    return str(Request({**scope, "headers": headers, "query_string": b""}).base_url)


def _classified(request: Request, items: list[tuple[int, str, Any, int, int]]) -> Classified:
    """The catalogue items' self-pay parts (全自费, 超限价, 先行自付), as a 2204/2301 detail is classified."""
    frame = pd.DataFrame(items, columns=["index", "list_code", "day", "amount", "cnt4"])
    frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[s]")
    with pooled_transaction(request.app.state.batch_database, read_only=True) as db:
        catalogue = details.catalogue_of(db, frame["list_code"].tolist())
    parts = classify(frame, catalogue)
    columns = (parts[c].to_numpy().tolist() for c in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt"))
    return {int(i): (int(a), int(b), int(c)) for i, a, b, c in zip(frame["index"].tolist(), *columns, strict=True)}


def _person_by_id_number(request: Request, id_number: str) -> str:
    """The registered person with this 身份证号 (404 none, 409 more than one)."""
    with pooled_transaction(request.app.state.batch_database, read_only=True) as db:
        found = queries.persons_by_id_number(db, id_number=id_number)
    if not found:
        raise Problem(404, "person_not_found", "no person is registered with this ID number", "Claim.patient")
    if len(found) > 1:
        raise Problem(409, "ambiguous_person", "more than one person has this ID number", "Claim.patient")
    return str(found[0]["person_id"])


_CREATED = re.compile(rb'\{"resourceType":"ClaimResponse","id":"([A-Za-z0-9]+)"')
"""The id at the head of a ClaimResponse as :func:`api.fhir_output.claim_response` writes it."""
_FUNDS: dict[int, dict[str, str]] = {}


def fund_names(policy: CompiledPolicy) -> dict[str, str]:
    """Each fund's name (the layer's ``fund_pay_type_name``) by payment column, once per policy."""
    if id(policy) not in _FUNDS:
        names = Names(policy.policy)
        _FUNDS[id(policy)] = {o: names.fund(o) for o in policy.outputs}
    return _FUNDS[id(policy)]


HOT_ROUTES = [Route(path, submit, methods=["POST"]) for path in ("/fhir/Claim", "/fhir/Claim/$submit")]
"""The Claim submission as plain Starlette routes in front of FastAPI's router (which documents them)."""


def _stored(db: ReaderDep, caller: CallerDep, setl_id: str) -> dict[str, Any]:
    row = queries.settlement(db, setl_id=setl_id)
    if row is None or not caller.may_read(row["institution_id"]):
        raise Problem(404, "settlement_not_found", f"no settlement {setl_id}", "setl_id")
    return row


def _document(db: ReaderDep, setl_id: str) -> dict[str, Any] | None:
    """The Claim its client submitted with the settlement (None: settled by another protocol)."""
    body = queries.submitted(db, setl_id=setl_id)
    document = json.loads(body) if body else None
    return document if isinstance(document, dict) else None


def _coverage(db: ReaderDep, setl_id: str) -> str | None:
    document = _document(db, setl_id)
    return focal_coverage(document.get("insurance")) if document else None


@router.get(
    "/ExplanationOfBenefit/{setl_id}", response_class=Response, summary="A settlement as an ExplanationOfBenefit"
)
def explanation(setl_id: SetlId, db: ReaderDep, caller: CallerDep, policy: PolicyDep) -> Response:
    row = _stored(db, caller, setl_id)
    lines, adjustments = queries.lines(db, setl_id=setl_id), queries.adjustments(db, setl_id=setl_id)
    eob = explanation_of_benefit(row, lines, adjustments, fund_names(policy), _coverage(db, setl_id))
    return Response(resource_bytes(eob), media_type=FHIR_JSON)


@router.get(
    "/Claim/{setl_id}", response_class=Response,
    summary="A settled Claim read back: as submitted over FHIR, else the service's record of it",
)  # fmt: skip
def claim_read(setl_id: SetlId, db: ReaderDep, caller: CallerDep) -> Response:
    row, document = _stored(db, caller, setl_id), _document(db, setl_id)
    claim = submitted_claim(row, document) if document else stored_claim(row)
    return Response(resource_bytes(claim), media_type=FHIR_JSON)


@router.get("/ClaimResponse/{setl_id}", response_class=Response, summary="A settlement's ClaimResponse, read back")
def claim_response_read(setl_id: SetlId, db: ReaderDep, caller: CallerDep, policy: PolicyDep) -> Response:
    row = _stored(db, caller, setl_id)
    lines = queries.lines(db, setl_id=setl_id)
    answer = claim_response(None, row, lines, fund_names(policy), coverage=_coverage(db, setl_id))
    return Response(resource_bytes(answer), media_type=FHIR_JSON)


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
                        "interaction": [{"code": "create"}, {"code": "read"}],
                        "operation": [
                            {"name": "submit", "definition": "http://hl7.org/fhir/OperationDefinition/Claim-submit"}
                        ],
                    },
                    {"type": "ClaimResponse", "interaction": read},
                    {"type": "ExplanationOfBenefit", "interaction": read},
                ],
            }
        ],
    }


@router.get("/metadata", response_class=Response, summary="The CapabilityStatement (no key needed)")
def metadata() -> Response:
    return Response(resource_bytes(capability_statement()), media_type=FHIR_JSON)
