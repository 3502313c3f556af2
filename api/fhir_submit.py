"""What a FHIR client submits, as the Claim-submit operation allows it: a Claim, a ``Parameters``
whose ``resource`` parameter is the Claim, or a ``Bundle`` whose first Claim entry is the Claim and
whose other entries are the resources it references — and the patient and provider those
references name.

A patient is named by a relative (``Patient/P001``) or absolute (``https://…/Patient/P001``)
reference, by a logical reference whose identifier is the person id (:data:`PERSON_ID`) or the ID
number (:data:`ID_NUMBER`, 身份证号), or by a reference to a Patient contained in the Claim
(``#p``) or in the Bundle (its ``fullUrl``) that carries such an identifier (else its id). The
provider is named the same way (``Organization/<institution code>``, or an identifier) and must be
the institution of the key that sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.fhir import BASE, ClaimError

PERSON_ID = f"{BASE}/sid/person-id"
ID_NUMBER = f"{BASE}/sid/id-number"
"""The identifier systems of a person: the service's person id, and the resident ID number."""


@dataclass(frozen=True)
class Submitted:
    """The Claim as submitted and the resources its references may name (by ``#id``, ``fullUrl``
    and ``Type/id``)."""

    claim: dict[str, Any]
    referenced: dict[str, dict[str, Any]] = field(default_factory=dict)


def unwrap(raw: Any) -> Submitted:
    """The Claim of a submission in any of the three forms (see the module's text)."""
    kind = raw.get("resourceType") if isinstance(raw, dict) else None
    if kind == "Parameters":
        parameters = _listed(raw.get("parameter"), "Parameters.parameter")
        found = [p.get("resource") for p in parameters if isinstance(p, dict) and p.get("name") == "resource"]
        if not found or not isinstance(found[0], dict):
            raise ClaimError("Parameters.parameter", "no parameter 'resource' holding the Claim")
        return unwrap(found[0])
    if kind == "Bundle":
        return _bundle(raw)
    if kind != "Claim":
        raise ClaimError("resourceType", "expected a Claim (or a Parameters or Bundle holding one)")
    return Submitted(raw, _contained(raw))


def _listed(value: Any, where: str) -> list[Any]:
    """An array element of a submission (absent: empty); anything else is refused at ``where``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClaimError(where, "an array is required")
    return value


def _contained(claim: dict[str, Any]) -> dict[str, dict[str, Any]]:
    contained = _listed(claim.get("contained"), "Claim.contained")
    return {f"#{r['id']}": r for r in contained if isinstance(r, dict) and r.get("id")}


def _bundle(bundle: dict[str, Any]) -> Submitted:
    listed = _listed(bundle.get("entry"), "Bundle.entry")
    entries = [e for e in listed if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    claims = [e["resource"] for e in entries if e["resource"].get("resourceType") == "Claim"]
    if not claims:
        raise ClaimError("Bundle.entry", "no Claim among the entries")
    referenced = {}
    for entry in entries:
        resource = entry["resource"]
        if entry.get("fullUrl"):
            referenced[str(entry["fullUrl"])] = resource
        if resource.get("id"):
            referenced[f"{resource['resourceType']}/{resource['id']}"] = resource
    return Submitted(claims[0], {**referenced, **_contained(claims[0])})


def _named(reference: dict[str, Any], kind: str, referenced: dict[str, dict[str, Any]]) -> tuple[str, str] | None:
    """(identifier system or "id", value) a reference names for a resource of ``kind``, or None."""
    identifier = reference.get("identifier") or {}
    if identifier.get("value"):
        return str(identifier.get("system") or ""), str(identifier["value"])
    text = str(reference.get("reference") or "")
    if text in referenced:
        resource = referenced[text]
        if resource.get("resourceType") != kind:
            raise ClaimError(f"Claim.{kind.lower()}", f"{text} is a {resource.get('resourceType')}, not a {kind}")
        identifiers = _listed(resource.get("identifier"), f"{text}.identifier")
        own = [
            i
            for i in identifiers
            if isinstance(i, dict) and i.get("system") in (PERSON_ID, ID_NUMBER) and i.get("value")
        ]
        return (str(own[0]["system"]), str(own[0]["value"])) if own else ("id", str(resource.get("id") or ""))
    parts = text.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return "id", parts[-1]
    return None


def patient_of(submitted: Submitted) -> tuple[str, str]:
    """How the Claim names its patient: ("person", person id) or ("id_number", 身份证号)."""
    named = _named(submitted.claim.get("patient") or {}, "Patient", submitted.referenced)
    if named is None or not named[1]:
        raise ClaimError("Claim.patient", "name the patient: Patient/<person id>, an identifier or a contained Patient")
    system, value = named
    if system == ID_NUMBER:
        return "id_number", value
    if system in ("id", PERSON_ID):
        return "person", value
    raise ClaimError("Claim.patient.identifier.system", f"{system!r}: use {PERSON_ID} or {ID_NUMBER}")


def provider_of(submitted: Submitted) -> str | None:
    """The institution code the Claim names as its provider, if it names one."""
    named = _named(submitted.claim.get("provider") or {}, "Organization", submitted.referenced)
    return named[1] if named and named[1] else None
