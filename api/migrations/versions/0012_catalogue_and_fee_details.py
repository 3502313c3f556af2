"""the medical-insurance catalogue (医保目录), visits' fee details (2204 / 2301) and files (9101 / 9102)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 04:25:00

A region loads its catalogue (list codes, 收费项目等级, 先行自付比例, 限价, dated versions); a hospital
uploads a visit's fee details, each classified against it on upload; a settlement without the
bill's parts sums them from its visit's details.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogueitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("selfpay", sa.Integer(), nullable=False),
        sa.Column("uplmt", sa.BigInteger(), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("med_chrgitm_type", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_catalogueitem_list_code", "catalogueitem", ["list_code"])
    op.create_table(
        "feedetail",
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("chrg_bchno", sa.String(length=64), nullable=False),
        sa.Column("list_code", sa.String(length=64), nullable=False),
        sa.Column("medins_list_codg", sa.String(length=64), nullable=False),
        sa.Column("fee_ocur_time", sa.DateTime(), nullable=False),
        sa.Column("cnt", sa.String(length=24), nullable=False),
        sa.Column("pric", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger(), nullable=False),
        sa.Column("overlmt_amt", sa.BigInteger(), nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger(), nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger(), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("selfpay", sa.Integer(), nullable=False),
        sa.Column("uplmt", sa.BigInteger(), nullable=False),
        sa.Column("med_chrgitm_type", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", "mdtrt_id", "feedetl_sn"),
    )

    op.create_table(
        "nhsafile",
        sa.Column("file_qury_no", sa.String(length=40), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_qury_no"),
    )
    op.create_index("ix_nhsafile_institution_id", "nhsafile", ["institution_id"])


def downgrade() -> None:
    op.drop_index("ix_nhsafile_institution_id", table_name="nhsafile")
    op.drop_table("nhsafile")
    op.drop_table("feedetail")
    op.drop_index("ix_catalogueitem_list_code", table_name="catalogueitem")
    op.drop_table("catalogueitem")
