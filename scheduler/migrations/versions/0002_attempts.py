"""Node rows keep the current attempt's token, the record of every attempt, whether the
outcome came from the cache, start and end times, and the container image it names.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graft_nodes") as batch:
        batch.add_column(sa.Column("token", sa.String(64), nullable=True))
        batch.add_column(sa.Column("history", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cached", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("started_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("ended_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("image", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graft_nodes") as batch:
        for name in ("image", "ended_at", "started_at", "cached", "history", "token"):
            batch.drop_column(name)
