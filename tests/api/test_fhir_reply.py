"""The ClaimResponse written straight as bytes (``api.fhir_reply``) is byte for byte what
``resource_bytes(claim_response(...))`` writes, for any claim, settlement and funds (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.fhir import BILL_PART, read_claim
from api.fhir_output import claim_response, resource_bytes
from api.fhir_reply import claim_response_json

TEXT = st.text(max_size=12)  # any unicode: quotes, backslashes, control characters, CJK
FEN = st.integers(min_value=-(10**13), max_value=10**13)
Settled = tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]
PART = st.sampled_from([None, "inscp", "fulamt_ownpay", "overlmt_selfpay", "preselfpay"])


@st.composite
def items(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for n in range(draw(st.integers(0, 4))):
        net = Decimal(draw(st.integers(0, 10**9))) / 100
        item: dict[str, Any] = {"sequence": n + 1, "net": {"value": net}, "productOrService": {"text": draw(TEXT)}}
        part = draw(PART)
        if part:
            item["category"] = {"coding": [{"system": BILL_PART, "code": part}]}
        out.append(item)
    return out


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": draw(TEXT), "code": draw(TEXT)}
    if draw(st.booleans()):
        coding["display"] = draw(st.none() | TEXT)  # a null FHIR does not carry: left out of the echo
    insurance: list[dict[str, Any]] = [{"sequence": 1, "focal": draw(st.booleans())}]
    if draw(st.booleans()):
        insurance[0]["coverage"] = {"reference": draw(TEXT)}
    claim = {
        "resourceType": "Claim", "status": "active", "use": draw(st.sampled_from(["claim", "predetermination"])),
        "type": {"coding": [coding], **({"text": draw(TEXT)} if draw(st.booleans()) else {})},
        "patient": {"reference": "Patient/P"}, "created": "2025-01-02", "provider": {"reference": "Organization/H"},
        "priority": {"coding": [{"code": "normal"}]}, "insurance": insurance,
    }  # fmt: skip
    found = draw(items())
    return {**claim, **({"item": found} if found else {})}


@st.composite
def settlements(draw: st.DrawFn) -> Settled:
    names = ("medfee_sumamt", "inscp_scp_amt", "act_pay_dedc", "fund_pay_sumamt", "psn_part_amt")
    values: dict[str, Any] = {name: draw(FEN) for name in names}
    values.update(
        setl_id=draw(st.sampled_from(["", "S1"]) | TEXT), status=draw(st.sampled_from(["settled", "reversed"])),
        kind=draw(st.sampled_from(["settlement", "reversal"])), reverses=draw(TEXT), person_id=draw(TEXT),
        policy_id=draw(TEXT), claim_id=draw(TEXT), category=draw(TEXT), med_type=draw(st.sampled_from(["11", "21"])),
    )  # fmt: skip
    outputs = draw(st.lists(st.sampled_from(["hifp_pay", "hifmi_pay", "maf_pay", "supp_pay"]), unique=True))
    lines = [
        {"output": o, "fund_pay_type": draw(st.sampled_from(["", "390100"]) | TEXT), "paid": draw(FEN)} for o in outputs
    ]
    funds = {o: draw(TEXT) for o in outputs if draw(st.booleans())}
    return values, lines, funds


@settings(max_examples=300, deadline=None)
@given(claims(), settlements(), st.lists(TEXT, max_size=3), st.data())
def test_written_as_the_resource_writes(raw: dict[str, Any], settled: Settled, notes: list[str], data: Any) -> None:
    claim = read_claim(raw)
    values, lines, funds = settled
    count = len(raw.get("item") or [])
    classified = {
        i: (data.draw(st.integers(0, 100)), 0, data.draw(st.integers(0, 100)))
        for i in range(count)
        if data.draw(st.booleans())
    }
    expected = resource_bytes(claim_response(claim, values, lines, funds, notes, classified))
    assert claim_response_json(claim, values, lines, funds, notes, classified) == expected
