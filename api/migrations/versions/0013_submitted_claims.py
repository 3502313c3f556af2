"""the documents clients submitted with their settlements (a FHIR Claim as it was sent)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:00:00

A FHIR client reads back the Claim it submitted (``GET /fhir/Claim/{id}``), and the
ExplanationOfBenefit echoes the coverage it named: both need the document as it came.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submitteddocument",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["setl_id"], ["settlement.setl_id"]),
        sa.PrimaryKeyConstraint("setl_id"),
    )


def downgrade() -> None:
    op.drop_table("submitteddocument")
