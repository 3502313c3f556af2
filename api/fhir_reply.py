"""The ClaimResponse of a submitted Claim written straight as JSON bytes — the same bytes as
``resource_bytes(claim_response(claim, …))`` (:mod:`api.fhir_output` builds the resource; a
property test holds the two equal), without building the resource: the desk renders one per FHIR
settlement, the reply its ``Idempotency-Key`` replays.

What the answer repeats of the Claim (:class:`Answering`: its type, use, items and focal coverage)
is taken when the Claim is translated, so the submitted resource is not kept while its batch
settles.

Money is written as ``repr(fen / 100)``, the text pydantic-core writes for the same double
(:func:`settlement.money.yuan_number`); the parts that repeat (adjudication categories, a fund's
category) are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from pydantic_core import to_json

from api.fhir import BASE, FUND_PAY_TYPE, BillItem, Classified, bill_items
from api.fhir_model import Claim
from api.fhir_output import (
    CATEGORY,
    PAYMENT_TYPE,
    ItemBase,
    Row,
    concept,
    disposition,
    echoed,
    focal_coverage,
    fund_code,
    insurance,
    item_bases,
    item_shares,
    process_notes,
    status_of,
)
from settlement.money import yuan_number


def _json(value: Any) -> str:
    return to_json(value).decode()


_CATEGORY = {code: _json(category) for code, category in CATEGORY.items()}
_PAYMENT_TYPE = _json(concept(PAYMENT_TYPE, "complete"))


@lru_cache(maxsize=1024)
def _fund_category(code: str, name: str | None) -> str:
    return _json(concept(FUND_PAY_TYPE, code, name))


def _money(fen: int) -> str:
    return f'{{"value":{yuan_number(fen)!r},"currency":"CNY"}}'


def _entry(category: str, fen: int) -> str:
    return f'{{"category":{category},"amount":{_money(fen)}}}'


def _funds(lines: list[Row], funds: dict[str, str]) -> list[str]:
    return [_fund_category(fund_code(line), funds.get(str(line["output"]))) for line in lines]


def _total(values: Row, lines: list[Row], categories: list[str]) -> str:
    named = ("submitted", "eligible", "deductible", "benefit", "patient-share")
    amounts = ("medfee_sumamt", "inscp_scp_amt", "act_pay_dedc", "fund_pay_sumamt", "psn_part_amt")
    entries = [_entry(_CATEGORY[c], values[a]) for c, a in zip(named, amounts, strict=True)]
    entries += [_entry(c, line["paid"]) for c, line in zip(categories, lines, strict=True)]
    return "[" + ",".join(entries) + "]"


def _items(items: Sequence[ItemBase], values: Row, lines: list[Row], categories: list[str]) -> str:
    entries = []
    for share in item_shares(items, values, lines):
        paid = sum(share.paid)
        rows = [_entry(_CATEGORY["submitted"], share.net), _entry(_CATEGORY["eligible"], share.eligible)]
        if share.eligible:
            rows += [_entry(_CATEGORY["deductible"], share.deductible), _entry(_CATEGORY["benefit"], paid)]
        rows.append(_entry(_CATEGORY["patient-share"], share.net - paid))
        if share.eligible:
            rows += [_entry(c, fen) for c, fen in zip(categories, share.paid, strict=True)]
        entries.append(f'{{"itemSequence":{share.sequence},"adjudication":[{",".join(rows)}]}}')
    return "[" + ",".join(entries) + "]"


@dataclass(frozen=True, slots=True)
class Answering:
    """What the ClaimResponse of a Claim repeats of it: its ``type`` (as JSON, echoed), ``use``, its
    items as their adjudication reads them and its focal coverage."""

    kind: str
    use: str
    items: tuple[ItemBase, ...]
    coverage: str | None


def answering(claim: Claim, items: Sequence[BillItem], classified: Classified | None = None) -> Answering:
    """What the answer to ``claim`` repeats of it (its ``items``: :func:`api.fhir.bill_items`; its
    catalogue items ``classified``)."""
    bases = item_bases(items, classified or {})
    return Answering(_json(echoed(claim["type"])), claim["use"], bases, focal_coverage(claim["insurance"]))


def _head(claim: Answering, values: Row) -> str:
    setl_id = values["setl_id"] or None
    stored = f',"id":{_json(setl_id)},"identifier":[{{"system":"{BASE}/setl_id","value":{_json(setl_id)}}}]'
    policy, patient = str(values["policy_id"]), f"Patient/{values['person_id']}"
    insurer = {"reference": f"Organization/{policy}", "display": f"medrelief policy {policy}"}
    return (
        f'{{"resourceType":"ClaimResponse"{stored if setl_id else ""},"status":"{status_of(values)}"'
        f',"type":{claim.kind},"use":{_json(claim.use)}'
        f',"patient":{{"reference":{_json(patient)}}}'
        f',"created":"{date.today().isoformat()}","insurer":{_json(insurer)}'
        f',"request":{{"identifier":{{"value":{_json(values["claim_id"])}}}}}'
        f',"outcome":"complete","disposition":{_json(disposition(values))}'
    )


def response_json(
    claim: Answering, values: Row, lines: list[Row], funds: dict[str, str], notes: Sequence[str] = ()
) -> bytes:
    """The ClaimResponse's bytes from what it repeats of the Claim (:func:`answering`)."""
    categories = _funds(lines, funds)
    out = [_head(claim, values)]
    if claim.items:
        out.append(f',"item":{_items(claim.items, values, lines, categories)}')
    out.append(f',"total":{_total(values, lines, categories)}')
    if claim.use == "claim":
        out.append(f',"payment":{{"type":{_PAYMENT_TYPE},"amount":{_money(values["fund_pay_sumamt"])}}}')
    payers = insurance(lines, funds, submitted=claim.coverage)
    out.append(f',"insurance":{_json(payers)}')
    if notes:
        out.append(f',"processNote":{_json(process_notes(notes)["processNote"])}')
    return ("".join(out) + "}").encode()


def claim_response_json(
    claim: Claim,
    values: Row,
    lines: list[Row],
    funds: dict[str, str],
    notes: Sequence[str] = (),
    classified: Classified | None = None,
) -> bytes:
    """``resource_bytes(claim_response(claim, values, lines, funds, notes, classified))``."""
    return response_json(answering(claim, bill_items(claim), classified), values, lines, funds, notes)
