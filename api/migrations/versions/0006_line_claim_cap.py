"""each settlement line records the rule's per-claim cap (单次限额)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:00:00

A rule may cap what one claim (a visit, an admission) is paid beside the annual cap of its
bucket; the line keeps it so every payment says which cap bound it. Existing lines had no such
cap: -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("settlementline") as table:
        table.add_column(sa.Column("claim_cap", sa.BigInteger(), nullable=False, server_default="-1"))


def downgrade() -> None:
    with op.batch_alter_table("settlementline") as table:
        table.drop_column("claim_cap")
