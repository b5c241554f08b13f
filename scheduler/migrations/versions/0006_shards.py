"""Executions fall into 16 shards (`sdk.wire.control.SHARDS`); several schedulers share
them: a row per shard names its holder, and a holder's lease lasts while its row in
graft_schedulers says it is alive.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SHARDS = 16  # the wire contract's count at this revision; a later change needs a migration


def upgrade() -> None:
    shards = op.create_table(
        "graft_shards",
        sa.Column("shard", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.bulk_insert(shards, [{"shard": s, "fence": 0} for s in range(SHARDS)])
    op.create_table(
        "graft_schedulers",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("shards", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("graft_schedulers")
    op.drop_table("graft_shards")
