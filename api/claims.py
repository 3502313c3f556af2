"""Claims between the service and the engine: a checked claim in fen (:class:`ClaimFacts`), claims
as an engine table, accumulator rows as an engine ledger, a settled claim as a settlement row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from api.books.writing import now
from api.schemas import ClaimIn
from settlement.accumulators import Ledger
from settlement.claims import UNKNOWN_BIRTH, ClaimTable
from settlement.engine import SettledBatch
from settlement.money import fen_of
from tiers.codes import CATEGORIES, CLAIM_FLAGS, MED_TYPES

I64 = npt.NDArray[np.int64]
EPOCH = date(1970, 1, 1)
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")
OUTPUT_MONEY = ("inscp_scp_amt", "act_pay_dedc", "hifp_pay", "hifmi_pay", "maf_pay", "supp_pay", "fund_pay_sumamt",
                "psn_part_amt")  # fmt: skip
SETTLEMENT_MONEY = (*AMOUNTS, *OUTPUT_MONEY)
"""A settlement row's money columns (fen)."""
Entry = tuple[str, int, tuple[str, str], tuple[int, int, int]]
"""An accumulator entry: person, year, (layer, bucket), (base_cum, paid_cum, claims)."""


@dataclass(frozen=True)
class ClaimFacts:
    """A claim as the engine needs it (amounts in fen), from a request or a stored settlement."""

    claim_id: str
    person_id: str
    med_type: str
    hospital_level: int
    settle_date: date
    diagnosis: str
    accident: bool
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int
    flags: tuple[bool, ...] = (False,) * len(CLAIM_FLAGS)
    """The claim attributes of :data:`tiers.codes.CLAIM_FLAGS` (out_of_area, out_of_province, referral, emergency)."""
    admission_date: date | None = None
    dated_on: date | None = None
    """The day the claim is dated by, where the policy dates claims by admission (else settle_date)."""

    @property
    def dated(self) -> date:
        """The day the claim is dated by: its parameters, identities and year (:attr:`tiers.schema.Policy.dated_by`)."""
        return self.dated_on or self.settle_date

    @classmethod
    def of(cls, claim: ClaimIn, dated_by: str = "settlement") -> ClaimFacts:
        """A request's claim (yuan, exact: at most two decimals, checked by the schema)."""
        total, ownpay, overlimit, preselfpay = (fen_of(getattr(claim, a)) for a in AMOUNTS)
        flags = tuple(bool(getattr(claim, f)) for f in CLAIM_FLAGS)
        admitted = claim.admission_date
        dated = admitted if dated_by == "admission" else None
        return cls(claim.claim_id, claim.person_id, str(claim.med_type), int(claim.hospital_level), claim.settle_date,
                   claim.diagnosis, claim.accident, total, ownpay, overlimit, preselfpay, flags, admitted,
                   dated)  # fmt: skip

    @classmethod
    def of_row(cls, row: Mapping[str, Any], dated_by: str = "settlement") -> ClaimFacts:
        """A stored settlement's claim (fen)."""
        total, ownpay, overlimit, preselfpay = (int(row[a]) for a in AMOUNTS)
        flags = tuple(bool(row.get(f, False)) for f in CLAIM_FLAGS)
        admitted = row.get("admission_date")
        dated = admitted if dated_by == "admission" else None
        return cls(str(row["claim_id"]), str(row["person_id"]), str(row["med_type"]), int(row["hospital_level"]),
                   row["settle_date"], str(row["diagnosis"]), bool(row["accident"]), total, ownpay, overlimit,
                   preselfpay, flags, admitted, dated)  # fmt: skip


def _ints(values: Sequence[int]) -> I64:
    return np.array(values, dtype=np.int64)


def birth_date_of(id_number: str) -> date | None:
    """The 出生日期 an 18-digit 身份证号 carries (digits 7–14), or None.

    >>> birth_date_of("110101200803150011"), birth_date_of("110101********1234"), birth_date_of("")
    (datetime.date(2008, 3, 15), None, None)
    """
    if len(id_number) != 18:
        return None
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def claims_table(
    facts: Sequence[ClaimFacts],
    settles_as: Mapping[str, str],
    arrival: Sequence[int] | None = None,
    births: Sequence[date | None] | None = None,
) -> ClaimTable:
    """The engine's table of ``facts`` (categories to come from identity periods: general until
    :func:`settlement.identities.with_candidates`; visit types as the policy's ``settles_as``
    maps them), each person's claims in ``arrival`` order; ``births``: each claim's person's birth
    date (None: unknown), for a policy's age bands."""
    n = len(facts)
    persons = list(dict.fromkeys(f.person_id for f in facts))
    ids = [f.claim_id for f in facts]
    return ClaimTable(
        claim_id=np.array(ids, dtype=object),
        claim_rank=np.argsort(np.argsort(np.array(ids, dtype=object), kind="stable")).astype(np.int64),
        person=_ints([persons.index(f.person_id) for f in facts]) if n < 64 else _codes(facts, persons),
        persons=np.array(persons, dtype=object),
        category=np.full(n, CATEGORIES.index("general"), np.int64),
        med=_ints([MED_TYPES.index(settles_as[f.med_type]) for f in facts]),
        level=_ints([f.hospital_level for f in facts]),
        day=_ints([(f.dated - EPOCH).days for f in facts]),
        diagnosis=np.arange(n, dtype=np.int64),
        diagnoses=np.array([f.diagnosis.strip().upper() for f in facts], dtype=object),
        accident=_ints([int(f.accident) for f in facts]),
        flags=_ints([sum(int(v) << i for i, v in enumerate(f.flags)) for f in facts]),
        medfee=_ints([f.medfee_sumamt for f in facts]),
        fulamt_ownpay=_ints([f.fulamt_ownpay_amt for f in facts]),
        overlmt_selfpay=_ints([f.overlmt_selfpay for f in facts]),
        preselfpay=_ints([f.preselfpay_amt for f in facts]),
        arrival=None if arrival is None else _ints(list(arrival)),
        birth=None if births is None else _ints([UNKNOWN_BIRTH if b is None else (b - EPOCH).days for b in births]),
    )


def _codes(facts: Sequence[ClaimFacts], persons: list[str]) -> I64:
    index = {p: i for i, p in enumerate(persons)}
    return _ints([index[f.person_id] for f in facts])


def ledger_of(entries: Sequence[Entry]) -> Ledger:
    """Accumulator entries as an engine ledger."""
    if not entries:
        return Ledger.empty()
    person, year, key, sums = zip(*entries, strict=True)
    return Ledger(
        person_id=np.array(person, dtype=object),
        year=_ints(year),
        layer=np.array([k[0] for k in key], dtype=object),
        bucket=np.array([k[1] for k in key], dtype=object),
        base_cum=_ints([s[0] for s in sums]),
        paid_cum=_ints([s[1] for s in sums]),
        claims=_ints([s[2] for s in sums]),
    )


def amounts(result: SettledBatch, i: int) -> dict[str, int]:
    """Claim ``i``'s output money (fen), a region's own funds included (their settlement lines
    hold them; the settlement row has the standard four)."""
    money = {
        "inscp_scp_amt": result.claims.inscp,
        "act_pay_dedc": result.act_pay_dedc,
        **result.payments,
        "fund_pay_sumamt": result.fund_pay_sumamt,
        "psn_part_amt": result.psn_part_amt,
    }
    return {column: int(values[i]) for column, values in money.items()}


def settlement_values(
    facts: ClaimFacts, result: SettledBatch, i: int, category: str, institution_id: str, seq: int
) -> dict[str, Any]:
    """The settlement row of claim ``i`` of ``result`` (fen; ``setl_id`` still empty)."""
    return {
        "setl_id": "",
        "seq": seq,
        "kind": "settlement",
        "reverses": None,
        "status": "settled",
        "reversed_by": None,
        "claim_id": facts.claim_id,
        "institution_id": institution_id,
        "person_id": facts.person_id,
        "year": facts.dated.year,
        "settle_date": facts.settle_date,
        "admission_date": facts.admission_date,
        "med_type": facts.med_type,
        "hospital_level": facts.hospital_level,
        "diagnosis": facts.diagnosis,
        "accident": facts.accident,
        **dict(zip(CLAIM_FLAGS, facts.flags, strict=True)),
        "category": category,
        "policy_id": result.policy.id,
        "request_hash": "",
        **{a: getattr(facts, a) for a in AMOUNTS},
        **{column: value for column, value in amounts(result, i).items() if column in OUTPUT_MONEY},
        "created_at": now(),
    }
