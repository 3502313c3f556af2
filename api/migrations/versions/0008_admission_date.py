"""each settlement keeps its claim's admission date (入院日期), where one was given

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:30:00

A policy may date claims by admission (``dated_by: admission``): the parameters, identities and
year of a stay that began in December and ended in January are December's. A settlement keeps the
date so a re-settlement of the year dates the claim the same way. Existing settlements: none given.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("settlement") as table:
        table.add_column(sa.Column("admission_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("settlement") as table:
        table.drop_column("admission_date")
