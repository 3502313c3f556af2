"""The parts of a FHIR R4 Claim the service reads, as typed dicts pydantic checks (strict where it matters).

A Claim is validated for what settling it uses — its identifiers, patient, type and subType,
use, dates, extensions, diagnoses, items and total — with FHIR's own rules for those elements
(codes and references as strings, dates as FHIR dates, money as decimals, no empty arrays);
other elements are accepted as they come and echoed where the response carries them. The Claim
read is the dict it came as, checked: :func:`validate` answers the same dict shape, so the
translation reads plain dicts (``benchmarks/README.md`` says what models and ``fhir.resources``
cost).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

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


_OPEN = ConfigDict(extra="allow")
"""Every element keeps what it carries beyond what the service reads (echoed where answered)."""


@with_config(_OPEN)
class Coding(TypedDict):
    system: NotRequired[str | None]
    code: NotRequired[str | None]
    display: NotRequired[str | None]


@with_config(_OPEN)
class CodeableConcept(TypedDict):
    coding: NotRequired[Annotated[list[Coding], Field(min_length=1)] | None]
    text: NotRequired[str | None]


@with_config(_OPEN)
class Identifier(TypedDict):
    system: NotRequired[str | None]
    value: NotRequired[str | None]


@with_config(_OPEN)
class Reference(TypedDict):
    reference: NotRequired[str | None]
    identifier: NotRequired[Identifier | None]
    display: NotRequired[str | None]


@with_config(_OPEN)
class Money(TypedDict):
    value: NotRequired[FhirDecimal | None]
    currency: NotRequired[Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None]


@with_config(_OPEN)
class Period(TypedDict):
    start: NotRequired[DATE_TIME | None]
    end: NotRequired[DATE_TIME | None]


@with_config(_OPEN)
class Extension(TypedDict):
    url: str
    valueInteger: NotRequired[int | None]
    valueBoolean: NotRequired[bool | None]


@with_config(_OPEN)
class Diagnosis(TypedDict):
    sequence: Annotated[int, Field(ge=1)]
    diagnosisCodeableConcept: NotRequired[CodeableConcept | None]


@with_config(_OPEN)
class Quantity(TypedDict):
    value: NotRequired[FhirDecimal | None]


@with_config(_OPEN)
class Item(TypedDict):
    sequence: Annotated[int, Field(ge=1)]
    category: NotRequired[CodeableConcept | None]
    productOrService: NotRequired[CodeableConcept | None]
    servicedDate: NotRequired[DATE | None]
    quantity: NotRequired[Quantity | None]
    net: NotRequired[Money | None]


@with_config(_OPEN)
class Accident(TypedDict):
    date: NotRequired[DATE | None]


@with_config(_OPEN)
class Claim(TypedDict):
    """A FHIR R4 Claim: the elements the service reads."""

    resourceType: Literal["Claim"]
    id: NotRequired[str | None]
    identifier: NotRequired[Annotated[list[Identifier], Field(min_length=1)] | None]
    status: Literal["active", "cancelled", "draft", "entered-in-error"]
    type: CodeableConcept
    subType: NotRequired[CodeableConcept | None]
    use: Literal["claim", "preauthorization", "predetermination"]
    patient: Reference
    billablePeriod: NotRequired[Period | None]
    created: DATE_TIME
    provider: Reference
    priority: CodeableConcept
    insurance: Annotated[list[dict[str, Any]], Field(min_length=1)]
    extension: NotRequired[Annotated[list[Extension], Field(min_length=1)] | None]
    diagnosis: NotRequired[Annotated[list[Diagnosis], Field(min_length=1)] | None]
    item: NotRequired[Annotated[list[Item], Field(min_length=1)] | None]
    total: NotRequired[Money | None]
    accident: NotRequired[Accident | None]
    referral: NotRequired[Reference | None]


_CLAIM = TypeAdapter(Claim)


def validate(raw: Any) -> Claim:
    """The Claim checked (a ``pydantic.ValidationError`` names the first problem's path)."""
    return _CLAIM.validate_python(raw)
