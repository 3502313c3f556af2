"""a person's settlements read from one index: the last arrival number and the year's sums

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 19:00:00

Every settlement reads the person's last arrival number and what the person-year's settlements
add up to (early warning's burden). With an index on ``person_id`` alone each of the person's
settlements was a row of the table to fetch — a page read apiece once the table outgrows the
cache, so a settlement grew slower with every claim the person had. This index holds what both
read (``person_id``, ``year``, ``seq`` and the four sums) and takes the place of the
``person_id`` index, its first column.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["person_id", "year", "seq", "psn_part_amt", "fulamt_ownpay_amt", "inscp_scp_amt", "fund_pay_sumamt"]


def upgrade() -> None:
    with op.batch_alter_table("settlement", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_person_year", COLUMNS, unique=False)
        batch_op.drop_index("ix_settlement_person_id")


def downgrade() -> None:
    with op.batch_alter_table("settlement", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_person_id", ["person_id"], unique=False)
        batch_op.drop_index("ix_settlement_person_year")
