"""Node rows keep their input bindings (references to other nodes' outputs, graph inputs or
values) and, once they succeeded, their outputs, so a node's inputs and outputs can be shown
after the execution ended and the status board can be rebuilt with them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graft_nodes") as batch:
        batch.add_column(sa.Column("inputs", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outputs", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graft_nodes") as batch:
        batch.drop_column("outputs")
        batch.drop_column("inputs")
