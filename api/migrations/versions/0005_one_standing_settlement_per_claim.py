"""one standing settlement per institution and claim, enforced by the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 18:00:00

``already_settled`` was only a read: two workers settling one hospital's claim for two persons
at the same moment both found it unsettled, and both stored it. A unique index over the
institution's standing claims (``kind = 'settlement' AND status = 'settled'``) makes the second
insert fail (it is answered ``already_settled`` on its retry); it replaces the plain index on the
same columns, which every query by claim filtered the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
STANDING = sa.text("kind = 'settlement' AND status = 'settled'")


def upgrade() -> None:
    op.drop_index("ix_settlement_institution_claim", table_name="settlement")
    op.create_index(
        "ux_settlement_standing_claim",
        "settlement",
        ["institution_id", "claim_id"],
        unique=True,
        sqlite_where=STANDING,
        postgresql_where=STANDING,
    )


def downgrade() -> None:
    op.drop_index("ux_settlement_standing_claim", table_name="settlement")
    op.create_index("ix_settlement_institution_claim", "settlement", ["institution_id", "claim_id"], unique=False)
