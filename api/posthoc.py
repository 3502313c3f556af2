"""Year-end post-hoc assistance in the service: from each person-year's effective settlements
(settlements, reversals and adjustments) through the policy's ``post_hoc`` programs, into
payments, accumulator rows of the program and the audit log — once per program and year."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from api.books import cases, queries, writing
from api.books.driver import Driver
from api.errors import Problem
from settlement.money import yuan_text
from settlement.posthoc import applied, settle_program
from tiers.schema import ClaimFlags
from tiers.tables import CompiledPolicy

PARTS = ("inscp_scp_amt", "preselfpay_amt", "overlmt_selfpay")


def person_years(db: Driver, year: int, policy: CompiledPolicy, counts: ClaimFlags | None = None) -> pd.DataFrame:
    """Per person: net in-policy amount, 先行自付, 超限价 and each fund's payments of the year (fen),
    and the category (its position in the policy's categories) of the person's latest standing
    settlement, over the claims a program ``counts`` — as :func:`settlement.posthoc.person_years`
    gives."""
    books = queries.year_books(db, year=year, counted=counts.wanted() if counts else None)
    money = (*PARTS, *policy.outputs)
    frame = pd.DataFrame(books, columns=["person_id", *money, "category"]).fillna(dict.fromkeys(money, 0))
    frame["category"] = frame["category"].map(list(policy.profiles.categories).index).astype(np.int64)
    return frame.assign(year=year).astype(dict.fromkeys(money, np.int64))


def year_categories(db: Driver, year: int, categories: Sequence[str]) -> pd.DataFrame:
    """(person_id, year, category code) of every standing settlement of the year — as
    :func:`settlement.posthoc.year_categories` gives."""
    held = pd.DataFrame(queries.year_categories(db, year=year), columns=["person_id", "category"])
    held["category"] = held["category"].map(list(categories).index).astype(np.int64)
    return held.assign(year=year)[["person_id", "year", "category"]]


def applicants(db: Driver, year: int) -> pd.DataFrame:
    """The person-years with an approved (or verified) case: who applied and was granted help."""
    approved = [
        (c["person_id"], c["year"]) for c in cases.cases(db, year=year) if c["state"] in ("approved", "verified")
    ]
    return pd.DataFrame(approved, columns=["person_id", "year"])


def _rows(run_id: str, program: str, year: int, paid: pd.DataFrame) -> list[dict[str, Any]]:
    columns = ("person_id", "rule", "bucket", "base", "paid", "cap", "cap_left")
    return [
        {"run_id": run_id, "program": program, "person_id": person, "year": year, "rule": rule, "bucket": bucket,
         "base": int(base), "paid": int(amount), "cap": -1 if pd.isna(cap) else int(cap),
         "cap_left": -1 if pd.isna(left) else int(left)}
        for person, rule, bucket, base, amount, cap, left in zip(*(paid[k].tolist() for k in columns), strict=True)
    ]  # fmt: skip


def run(db: Driver, actor: str, year: int, policy: CompiledPolicy) -> dict[str, Any]:
    """Settle every post-hoc program of the policy for ``year`` (each at most once); committed."""
    if not policy.policy.post_hoc:
        raise Problem(422, "no_post_hoc", f"policy {policy.id} defines no post-hoc assistance")
    programs = [p.id for p in policy.policy.post_hoc]
    done = [p for p in programs if queries.program_ran(db, program=p, year=year)]
    if done:
        raise Problem(
            409, "post_hoc_already_run", f"post-hoc assistance for {year} was already run ({done[0]})", "year"
        )
    held = year_categories(db, year, policy.profiles.categories)
    run_id, summary, writes = writing.new_id("H"), [], []
    read: dict[tuple[tuple[str, bool], ...], pd.DataFrame] = {}  # the books once per set of counted claims
    for program in policy.policy.post_hoc:
        counted = tuple(program.counts.wanted().items()) if program.counts else ()
        if counted not in read:
            read[counted] = person_years(db, year, policy, program.counts)
        years = applied(program, read[counted], applicants(db, year))
        paid = settle_program(program, policy.policy, years, held) if len(years) else pd.DataFrame(columns=["paid"])
        rows = _rows(run_id, program.id, year, paid[paid["paid"] > 0])
        writes += writing.payment_writes(rows=rows)
        summary.append(
            {"program": program.id, "persons_paid": len(rows), "paid": yuan_text(sum(r["paid"] for r in rows))}
        )
    runs = [w for p in programs for w in writing.run_writes(program=p, year=year, summary=run_id.encode())]
    db.commit(
        [*writes, *runs, *writing.audit_writes(actor, "post_hoc", "year", str(year), run_id=run_id, programs=programs)]
    )
    return {"run_id": run_id, "year": year, "programs": summary}
