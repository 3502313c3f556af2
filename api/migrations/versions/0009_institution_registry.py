"""institutions as the platform knows them (定点医药机构): hospital tier, region, active dates

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 01:40:00

The national platform knows each hospital's level from its code (``fixmedins_code``); real HIS
clients never send ``hosp_lv``. An institution keeps its hospital tier (one of the policy's
tiers), its region (``admdvs``) and the dates it is a 定点 institution. Existing institutions:
no tier (a message must then carry ``hosp_lv``), no region, always active.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("institution") as table:
        table.add_column(sa.Column("hospital_tier", sa.String(length=8), nullable=True))
        table.add_column(sa.Column("admdvs", sa.String(length=6), nullable=False, server_default=""))
        table.add_column(sa.Column("active_from", sa.Date(), nullable=True))
        table.add_column(sa.Column("active_to", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("institution") as table:
        for column in ("active_to", "active_from", "admdvs", "hospital_tier"):
            table.drop_column(column)
