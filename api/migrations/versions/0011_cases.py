"""cases (预警 → 申请 → 审批 / 容缺 → 核对) and their steps, recoveries (追回) among them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:00:00

A warned person-year becomes a case; each step is dated, names who took it and the re-settlement
runs it made (an approval grants an identity, a revocation takes it back), or the money recorded
as recovered.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reliefcase",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("fast_track", sa.Boolean(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "year"),
    )
    op.create_index("ix_reliefcase_person_id", "reliefcase", ["person_id"])
    op.create_table(
        "casestep",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("runs", sa.String(), nullable=False),
        sa.Column("output", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["reliefcase.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_casestep_case_id", "casestep", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_casestep_case_id", table_name="casestep")
    op.drop_table("casestep")
    op.drop_index("ix_reliefcase_person_id", table_name="reliefcase")
    op.drop_table("reliefcase")
