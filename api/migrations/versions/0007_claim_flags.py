"""each settlement keeps the claim attributes rules may test: out_of_area, out_of_province, …

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 23:00:00

A policy's rules may settle care outside the insured region (异地就医) or its province, a regular
referral (规范转诊) or an emergency differently; a settlement keeps what its claim said, so a re-settlement of the
year settles it the same way. Existing settlements said none of these: false.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = ("out_of_area", "out_of_province", "referral", "emergency")


def upgrade() -> None:
    with op.batch_alter_table("settlement") as table:
        for flag in FLAGS:
            table.add_column(sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("settlement") as table:
        for flag in FLAGS:
            table.drop_column(flag)
