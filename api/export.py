"""Exports of the service's books for insurers and funds that work on files."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from api.store import SETTLEMENT_MONEY
from tiers.loader import load_policy

COLUMNS = (
    "setl_id",
    "kind",
    "reverses",
    "status",
    "claim_id",
    "institution_id",
    "person_id",
    "settle_date",
    "med_type",
    "hospital_level",
    "category",
    "policy_id",
    *SETTLEMENT_MONEY,
)


def settlements(session: Session, start: date, end: date) -> pd.DataFrame:
    """Settlement and reversal rows settled in [start, end], money in fen, with ``insutype`` and
    ``refd_setl_flag`` (1 on reversal rows) for statements and reconciliation."""
    table = SQLModel.metadata.tables["settlement"]
    query = sa.select(*(table.c[c] for c in COLUMNS)).where(table.c.settle_date.between(start, end))
    rows = session.execute(query.order_by(table.c.settle_date, table.c.setl_id)).all()
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    insutype = {p: load_policy(p).insutype for p in frame["policy_id"].unique().tolist()}
    frame["insutype"] = frame["policy_id"].map(insutype).astype(object)
    frame["refd_setl_flag"] = (frame["kind"] == "reversal").astype("int64")
    frame["settle_date"] = frame["settle_date"].astype(str)
    return frame
