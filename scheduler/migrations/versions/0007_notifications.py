"""Launch plan notifications: the notifications of an execution and of a registered launch
plan, and those an execution's end fired, each until it was sent.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-10
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graft_executions") as batch:
        batch.add_column(sa.Column("notify", sa.Text(), nullable=True))
    with op.batch_alter_table("graft_launch_plans") as batch:
        batch.add_column(sa.Column("notifications", sa.Text(), nullable=True))
    op.create_table(
        "graft_notifications",
        sa.Column("execution_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_graft_notifications_state", "graft_notifications", ["state"])


def downgrade() -> None:
    op.drop_index("ix_graft_notifications_state", "graft_notifications")
    op.drop_table("graft_notifications")
    with op.batch_alter_table("graft_launch_plans") as batch:
        batch.drop_column("notifications")
    with op.batch_alter_table("graft_executions") as batch:
        batch.drop_column("notify")
