"""drop the index on settlement.seq

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:20:00

``seq`` (a person's arrival order) is only ever read for one person's settlements, which the
``person_id`` index finds; the index on ``seq`` alone served no query and cost every settlement
a page write.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_settlement_seq", table_name="settlement")


def downgrade() -> None:
    op.create_index("ix_settlement_seq", "settlement", ["seq"], unique=False)
