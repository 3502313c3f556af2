"""Reconciliation over HTTP: an insurer posts its payout rows; they are matched to our settlements."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.books import export
from api.deps import CallerDep, PolicyDep, ReaderDep
from api.errors import Problem
from settlement import io
from settlement.money import yuan_text
from settlement.reconcile import ReconcileError, Side, is_money_field, plan, reconcile

router = APIRouter(prefix="/v1/reconciliations", tags=["insurers"])
MAX_BODY_BYTES = 256 * 2**20
"""The largest request body here: up to 200,000 payout rows (the service's default is 1 MiB)."""
SHOWN = 10_000

Cell = Annotated[str, Field(max_length=64)] | int | float


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    key: Annotated[str, Field(max_length=64)] = "setl_id"
    mapping: io.ColumnMapping | None = None
    fields: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=64)
    """The money columns to compare (default: every one both sides carry, which must then be all)."""
    exclude: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=64)
    """Money columns not to compare, e.g. our books' ``inscp_scp_amt`` a payout file does not carry."""
    rows: list[dict[Annotated[str, Field(max_length=64)], Cell]] = Field(max_length=200_000)


def _ours(frame: pd.DataFrame) -> Side:
    money = {c: frame[c].to_numpy(np.int64) for c in frame.columns if is_money_field(str(c))}
    category = frame["category"].astype(str).to_numpy(dtype=object) if "category" in frame.columns else None
    flags = (frame["refd_setl_flag"] == 1).to_numpy(bool)
    return Side("ours", frame["setl_id"].astype(str), flags, money, category=category)


def _yuan(value: Any) -> str | None:
    return None if pd.isna(value) else yuan_text(int(value))


@router.post("", summary="Match posted payout rows to our settlements of a period (like 3202)")
def reconcile_rows(body: ReconcileIn, db: ReaderDep, caller: CallerDep, policy: PolicyDep) -> dict[str, Any]:
    caller.require("read:all")
    books = export.settlements(db, start=body.period_from, end=body.period_to, insutype=policy.policy.insutype)
    ours = _ours(books)
    try:
        theirs = io.side_of(pd.DataFrame(body.rows).astype(str), "theirs", body.key, body.mapping)
        asked = tuple(body.fields) if body.fields is not None else None
        chosen = plan(ours.columns(), theirs.columns(), asked, tuple(body.exclude))
        result = reconcile(ours, theirs, chosen.compared, chosen)
    except (ReconcileError, io.TableFileError) as exc:
        raise Problem(422, "not_reconcilable", str(exc), "rows") from exc
    exceptions = result.report[result.report["outcome"] != "matched"]
    shown = exceptions.head(SHOWN)
    return {
        "verdict": "PASS" if result.passed else "FAIL",
        "summary": result.summary_line(),
        "counts": result.counts,
        "compared": list(chosen.compared),
        "not_compared": chosen.not_compared,
        "totals": [
            {"field": f, "ours": _yuan(o), "theirs": _yuan(t), "difference": _yuan(d)}
            for f, o, t, d in zip(
                *(result.totals[c].tolist() for c in ("field", "ours", "theirs", "difference")), strict=True
            )
        ],
        "exceptions": [
            {"key": k, "outcome": o, "field": f, "ours": _yuan(a), "theirs": _yuan(b), "note": n}
            for k, o, f, a, b, n in zip(
                *(shown[c].tolist() for c in ("key", "outcome", "field", "ours", "theirs", "note")), strict=True
            )
        ],
        "exceptions_truncated": len(exceptions) > SHOWN,
    }
