"""Persons, their dated relief identities, year-to-date accumulators (5206) and re-settlement."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import resettlement, store
from api.auth import Caller, mask_id_number
from api.caps import caps_left
from api.deps import CallerDep, IdentityId, PersonId, PolicyDep, SessionDep, WriteSessionDep, Year, writing
from api.errors import Problem
from api.models import Identity, Person
from api.schemas import AccumulatorsOut, IdentityIn, IdentityOut, PersonIn, PersonOut, ResettlementOut
from tiers.tables import CompiledPolicy

router = APIRouter(prefix="/v1/persons", tags=["persons"])


def _person_out(session: Session, person: Person) -> PersonOut:
    rows = session.exec(select(Identity).where(Identity.person_id == person.person_id).order_by(col(Identity.id)))
    identities = [
        IdentityOut(
            id=i.id or 0,
            category=i.category,
            valid_from=i.valid_from,
            valid_to=i.valid_to,
            source=i.source,
            revoked=i.revoked_at is not None,
        )
        for i in rows
    ]
    return PersonOut(
        person_id=person.person_id, name=person.name, id_number=mask_id_number(person.id_number), identities=identities
    )


@router.post("", status_code=201, response_model=PersonOut, summary="Register a person with relief identities")
def register(body: PersonIn, session: WriteSessionDep, caller: CallerDep) -> PersonOut:
    caller.require("persons")
    with writing(session):
        if session.get(Person, body.person_id) is not None:
            raise Problem(409, "person_exists", f"person {body.person_id} is already registered", "person_id")
        person = Person(person_id=body.person_id, name=body.name, id_number=body.id_number)
        session.add(person)
        try:
            session.flush()
        except IntegrityError as exc:  # registered by a concurrent request since the check above
            raise Problem(409, "person_exists", f"person {body.person_id} is already registered", "person_id") from exc
        for identity in body.identities:
            session.add(Identity(person_id=body.person_id, **identity.model_dump()))
        store.audit(
            session, caller.institution_id, "register", "person", body.person_id, identities=len(body.identities)
        )
        session.commit()
        return _person_out(session, person)


def _person(session: Session, caller: Caller, person_id: str) -> Person:
    if not ({"persons", "read:all", "settle"} & caller.scopes):
        raise Problem(403, "forbidden", "this key may not read persons")
    person = session.get(Person, person_id)
    if person is None:
        raise Problem(404, "person_not_found", f"person {person_id} is not registered", "person_id")
    return person


@router.get("/{person_id}", response_model=PersonOut, summary="A person (ID number masked) and identities")
def read(person_id: PersonId, session: SessionDep, caller: CallerDep) -> PersonOut:
    return _person_out(session, _person(session, caller, person_id))


def _resettle(
    session: Session, caller: Caller, person_id: str, start: date, policy: CompiledPolicy, reason: str
) -> list[ResettlementOut]:
    return resettlement.resettle_from(session, caller.institution_id, person_id, start, policy, reason)


@router.post(
    "/{person_id}/identities",
    status_code=201,
    summary="Grant an identity (back-dated: re-settles the years it touches)",
)
def grant(
    person_id: PersonId, body: IdentityIn, session: WriteSessionDep, caller: CallerDep, policy: PolicyDep
) -> list[ResettlementOut]:
    caller.require("persons")
    with writing(session):
        store.lock_person(session, person_id)
        identity = Identity(person_id=person_id, **body.model_dump())
        session.add(identity)
        session.flush()
        store.audit(
            session,
            caller.institution_id,
            "grant",
            "identity",
            str(identity.id),
            person_id=person_id,
            category=body.category,
        )
        runs = _resettle(
            session,
            caller,
            person_id,
            body.valid_from,
            policy,
            f"identity {body.category} granted from {body.valid_from}",
        )
        session.commit()
        return runs


@router.post(
    "/{person_id}/identities/{identity_id}/revocation", summary="Revoke an identity retroactively (re-settles)"
)
def revoke(
    person_id: PersonId, identity_id: IdentityId, session: WriteSessionDep, caller: CallerDep, policy: PolicyDep
) -> list[ResettlementOut]:
    caller.require("persons")
    with writing(session):
        store.lock_person(session, person_id)
        identity = session.get(Identity, identity_id)
        if identity is None or identity.person_id != person_id:
            raise Problem(404, "identity_not_found", f"person {person_id} has no identity {identity_id}", "identity_id")
        if identity.revoked_at is not None:
            raise Problem(409, "already_revoked", f"identity {identity_id} is already revoked")
        identity.revoked_at = datetime.now(UTC)
        session.add(identity)
        session.flush()
        store.audit(session, caller.institution_id, "revoke", "identity", str(identity_id), person_id=person_id)
        runs = _resettle(
            session, caller, person_id, identity.valid_from, policy, f"identity {identity.category} revoked"
        )
        session.commit()
        return runs


@router.post(
    "/{person_id}/years/{year}/resettlement", response_model=ResettlementOut, summary="Re-settle a person-year"
)
def resettle(
    person_id: PersonId, year: Year, session: WriteSessionDep, caller: CallerDep, policy: PolicyDep
) -> ResettlementOut:
    caller.require("admin")
    with writing(session):
        out = resettlement.resettle_year(
            session, caller.institution_id, person_id, year, policy, "re-settlement on request"
        )
        session.commit()
        return out


@router.get(
    "/{person_id}/accumulators", response_model=AccumulatorsOut, summary="Year-to-date use and what is left of each cap"
)
def accumulators(
    person_id: PersonId,
    session: SessionDep,
    caller: CallerDep,
    policy: PolicyDep,
    year: Annotated[int, Query(ge=1900, le=2200)],
    on: Annotated[
        date | None, Query(description="Date for the category and caps (default: today, within the year)")
    ] = None,
) -> AccumulatorsOut:
    _person(session, caller, person_id)
    day = on or min(date.today(), date(year, 12, 31))
    categories = store.categories_on(session, person_id, day)
    rows = store.accumulator_rows(session, person_id, year)
    return caps_left(policy, person_id, year, day, categories, rows)
