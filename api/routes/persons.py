"""Persons, their dated relief identities (grant/revoke re-settle), accumulators (5206), re-settlement."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api import registry
from api.auth import Caller, mask_id_number
from api.books import queries
from api.books.driver import Driver
from api.case_schemas import PreviewOut
from api.db import INTEGRITY_ERRORS
from api.deps import CallerDep, IdentityId, PersonId, PolicyDep, ReaderDep, Year, body_of, hand_read
from api.errors import Problem
from api.queue import write
from api.resettled import preview_out, runs_out
from api.schemas import (
    AccumulatorsOut,
    BucketOut,
    CapOut,
    IdentityIn,
    IdentityOut,
    PersonIn,
    PersonOut,
    ResettlementOut,
)
from settlement.caps import caps_left, first_category
from settlement.identities import IdentityPeriods, held_on
from settlement.money import yuan_of
from tiers.tables import CompiledPolicy

router = APIRouter(prefix="/v1/persons", tags=["persons"])


def person_out(db: Driver, person_id: str) -> PersonOut:
    person = queries.person(db, person_id=person_id)
    if person is None:
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")
    identities = [
        IdentityOut(
            id=int(i["id"]),
            category=i["category"],
            valid_from=i["valid_from"],
            valid_to=i["valid_to"],
            source=i["source"],
            revoked=i["revoked_at"] is not None,
        )
        for i in queries.identities(db, person_id=person_id)
    ]
    return PersonOut(
        person_id=person_id, name=person["name"], id_number=mask_id_number(person["id_number"]), identities=identities
    )


def _period(identity: IdentityIn, policy: CompiledPolicy, where: str = "category") -> registry.Period:
    """An identity as a registry period; a category the policy does not have is refused (422)."""
    categories = policy.profiles.categories
    if identity.category not in categories:
        detail = f"{identity.category!r} is not a relief category of policy {policy.id} ({', '.join(categories)})"
        raise Problem(422, "unknown_category", detail, where)
    return identity.category, identity.valid_from, identity.valid_to, identity.source


@router.post(
    "",
    status_code=201,
    response_model=PersonOut,
    summary="Register a person with relief identities",
    openapi_extra=hand_read(PersonIn, caller_headers=False),
)
async def register(request: Request, caller: CallerDep, policy: PolicyDep) -> PersonOut:
    caller.require("persons")
    body = await body_of(request, PersonIn)
    periods = [_period(i, policy, f"identities.{n}.category") for n, i in enumerate(body.identities)]

    def work(db: Driver) -> None:
        registry.register(
            db,
            actor=caller.institution_id,
            person_id=body.person_id,
            name=body.name,
            id_number=body.id_number,
            periods=periods,
        )

    try:
        await write(request.app.state.database, work)
    except INTEGRITY_ERRORS as exc:  # registered by a concurrent request since the check
        raise Problem(409, "person_exists", f"person {body.person_id} is already registered", "person_id") from exc
    return await write(request.app.state.database, lambda db: person_out(db, body.person_id))


def _readable(caller: Caller) -> None:
    if not ({"persons", "read:all", "settle"} & caller.scopes):
        raise Problem(403, "forbidden", "this key may not read persons")


@router.get("/{person_id}", response_model=PersonOut, summary="A person (ID number masked) and identities")
def read(person_id: PersonId, db: ReaderDep, caller: CallerDep) -> PersonOut:
    _readable(caller)
    return person_out(db, person_id)


DryRun = Annotated[bool, Query(description="Preview what it would adjust and who would owe or be owed; nothing kept")]


@router.post(
    "/{person_id}/identities",
    status_code=201,
    response_model=list[ResettlementOut] | PreviewOut,
    summary="Grant an identity (back-dated: re-settles the years it touches)",
    openapi_extra=hand_read(IdentityIn, caller_headers=False),
)
async def grant(
    person_id: PersonId, request: Request, caller: CallerDep, policy: PolicyDep, dry_run: DryRun = False
) -> list[ResettlementOut] | PreviewOut:
    caller.require("persons")
    body = await body_of(request, IdentityIn)
    runs = await write(
        request.app.state.database,
        lambda db: registry.grant(
            db,
            actor=caller.institution_id,
            person_id=person_id,
            period=_period(body, policy),
            policy=policy,
            dry_run=dry_run,
        ),
    )
    return preview_out(runs, policy) if dry_run else runs_out(runs)


@router.post(
    "/{person_id}/identities/{identity_id}/revocation",
    response_model=list[ResettlementOut] | PreviewOut,
    summary="Revoke an identity retroactively (re-settles)",
)
async def revoke(
    person_id: PersonId,
    identity_id: IdentityId,
    request: Request,
    caller: CallerDep,
    policy: PolicyDep,
    dry_run: DryRun = False,
) -> list[ResettlementOut] | PreviewOut:
    caller.require("persons")
    runs = await write(
        request.app.state.database,
        lambda db: registry.revoke(
            db,
            actor=caller.institution_id,
            person_id=person_id,
            identity_id=identity_id,
            policy=policy,
            dry_run=dry_run,
        ),
    )
    return preview_out(runs, policy) if dry_run else runs_out(runs)


@router.post(
    "/{person_id}/years/{year}/resettlement", response_model=ResettlementOut, summary="Re-settle a person-year"
)
async def resettle(
    person_id: PersonId, year: Year, request: Request, caller: CallerDep, policy: PolicyDep
) -> ResettlementOut:
    caller.require("admin")
    run = await write(
        request.app.state.database,
        lambda db: registry.resettle_on_request(
            db, actor=caller.institution_id, person_id=person_id, year=year, policy=policy
        ),
    )
    return runs_out([run])[0]


def accumulators_out(db: Driver, policy: PolicyDep, person_id: str, year: int, day: date) -> AccumulatorsOut:
    """What the person has used of each cap bucket in ``year`` and what is left (on ``day``)."""
    periods = IdentityPeriods.of(
        [
            (person_id, i["category"], i["valid_from"], i["valid_to"])
            for i in queries.identities(db, person_id=person_id)
            if i["revoked_at"] is None
        ],
        policy.profiles.categories,
    )
    category = first_category(held_on(periods, person_id, day), periods.categories)
    used = queries.accumulators(db, person_id=person_id, year=year)
    buckets = [
        BucketOut(
            layer=b.layer,
            bucket=b.bucket,
            base_cum=yuan_of(b.base_cum),
            paid_cum=yuan_of(b.paid_cum),
            claims=b.claims,
            caps=[
                CapOut(
                    rule=c.rule,
                    cap=None if c.cap is None else yuan_of(c.cap),
                    cap_left=None if c.left is None else yuan_of(c.left),
                )
                for c in b.caps
            ],
        )
        for b in caps_left(policy, day, category, used)
    ]
    known = {(b.layer, b.bucket) for b in buckets}
    buckets += [  # what a post-hoc program or the second payout paid the person-year
        BucketOut(layer=layer, bucket=bucket, base_cum=yuan_of(base), paid_cum=yuan_of(paid), claims=claims, caps=[])
        for (layer, bucket), (base, paid, claims) in sorted(used.items())
        if (layer, bucket) not in known
    ]
    return AccumulatorsOut(person_id=person_id, year=year, category=category, buckets=buckets)


@router.get(
    "/{person_id}/accumulators", response_model=AccumulatorsOut, summary="Year-to-date use and what is left of each cap"
)
def accumulators(
    person_id: PersonId,
    db: ReaderDep,
    caller: CallerDep,
    policy: PolicyDep,
    year: Annotated[
        int,
        Query(ge=1900, le=2200, description="The year (a layer with a period of its own: its period starting in it)"),
    ],
    on: Annotated[
        date | None, Query(description="Date for the category and caps (default: today, within the year)")
    ] = None,
) -> AccumulatorsOut:
    _readable(caller)
    if queries.person(db, person_id=person_id) is None:
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")
    return accumulators_out(db, policy, person_id, year, on or min(date.today(), date(year, 12, 31)))
