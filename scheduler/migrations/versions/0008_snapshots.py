"""Engine snapshots: the store key of an execution's newest engine snapshot and the number of
the last event it holds (scheduler/snapshots.py), so that a rebuild replays only the events
after it.

Revision ID: 0008
Revises: 0007
Create Date: 2027-02-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graft_executions") as batch:
        batch.add_column(sa.Column("snapshot_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("snapshot_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graft_executions") as batch:
        batch.drop_column("snapshot_seq")
        batch.drop_column("snapshot_key")
