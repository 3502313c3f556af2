"""The parts of a FHIR R4 Claim the service reads, as pydantic models (strict where it matters).

A Claim is validated for what settling it uses — its identifiers, patient, type and subType,
use, dates, extensions, diagnoses, items and total — with FHIR's own rules for those elements
(codes and references as strings, dates as FHIR dates, money as decimals, no empty arrays);
other elements are accepted as they come and echoed where the response carries them. Validating
the whole resource with ``fhir.resources`` cost several times the rest of a settlement
(``benchmarks/README.md``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

FHIR_DATE = r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
DATE = Annotated[str, Field(pattern=FHIR_DATE + r"$")]
DATE_TIME = Annotated[str, Field(pattern=FHIR_DATE + r"(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?$")]


def _decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a decimal number, not a boolean")
    if isinstance(value, float):  # not from the service's JSON reader (it reads decimals exactly)
        return Decimal(repr(value))
    return value


FhirDecimal = Annotated[Decimal, BeforeValidator(_decimal)]
Many = Annotated[list[Any], Field(min_length=1)]


class _Element(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Coding(_Element):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(_Element):
    coding: Annotated[list[Coding], Field(min_length=1)] | None = None
    text: str | None = None


class Identifier(_Element):
    system: str | None = None
    value: str | None = None


class Reference(_Element):
    reference: str | None = None
    identifier: Identifier | None = None
    display: str | None = None


class Money(_Element):
    value: FhirDecimal | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None


class Period(_Element):
    start: DATE_TIME | None = None
    end: DATE_TIME | None = None


class Extension(_Element):
    url: str
    valueInteger: int | None = None
    valueBoolean: bool | None = None


class Diagnosis(_Element):
    sequence: Annotated[int, Field(ge=1)]
    diagnosisCodeableConcept: CodeableConcept | None = None


class Quantity(_Element):
    value: FhirDecimal | None = None


class Item(_Element):
    sequence: Annotated[int, Field(ge=1)]
    category: CodeableConcept | None = None
    productOrService: CodeableConcept | None = None
    servicedDate: DATE | None = None
    quantity: Quantity | None = None
    net: Money | None = None


class Accident(_Element):
    date: DATE | None = None


class Claim(_Element):
    """A FHIR R4 Claim: the elements the service reads."""

    resourceType: Literal["Claim"]
    id: str | None = None
    identifier: Annotated[list[Identifier], Field(min_length=1)] | None = None
    status: Literal["active", "cancelled", "draft", "entered-in-error"]
    type: CodeableConcept
    subType: CodeableConcept | None = None
    use: Literal["claim", "preauthorization", "predetermination"]
    patient: Reference
    billablePeriod: Period | None = None
    created: DATE_TIME
    provider: Reference
    priority: CodeableConcept
    insurance: Annotated[list[dict[str, Any]], Field(min_length=1)]
    extension: Annotated[list[Extension], Field(min_length=1)] | None = None
    diagnosis: Annotated[list[Diagnosis], Field(min_length=1)] | None = None
    item: Annotated[list[Item], Field(min_length=1)] | None = None
    total: Money | None = None
    accident: Accident | None = None
    referral: Reference | None = None
