"""one index for the settlement lookup by (institution, claim_id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:20:00

Every settlement looks for an active settlement of the same claim by the same institution.
With one index per column SQLite chose ``institution_id`` (no statistics) and walked all of
that institution's settlements on every request; the composite index replaces both.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_settlement_institution_claim", "settlement", ["institution_id", "claim_id"], unique=False)
    op.drop_index("ix_settlement_institution_id", table_name="settlement")
    op.drop_index("ix_settlement_claim_id", table_name="settlement")


def downgrade() -> None:
    op.create_index("ix_settlement_claim_id", "settlement", ["claim_id"], unique=False)
    op.create_index("ix_settlement_institution_id", "settlement", ["institution_id"], unique=False)
    op.drop_index("ix_settlement_institution_claim", table_name="settlement")
