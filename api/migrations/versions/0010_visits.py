"""visits (就诊) registered on the national interface: 2201 门诊挂号 / 2401 入院, 2203 / 2402

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 02:20:00

Real HIS clients send the diagnosis, the visit type and the admission time with the visit's
registration and information upload, not with the settlement; a settlement of the visit's
``mdtrt_id`` takes them from here when its message omits them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit",
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("med_type", sa.String(length=8), nullable=False, server_default=""),
        sa.Column("begntime", sa.DateTime(), nullable=True),
        sa.Column("endtime", sa.DateTime(), nullable=True),
        sa.Column("diagnosis", sa.String(length=32), nullable=False, server_default=""),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", "mdtrt_id"),
    )


def downgrade() -> None:
    op.drop_table("visit")
