"""Launch plans registered for a schedule, and the ticks fired for them: one row per
(launch plan, tick time), so that no tick starts two executions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "graft_launch_plans",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("workflow", sa.String(255), nullable=False),
        sa.Column("spec_key", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, index=True),
        sa.Column("anchor_s", sa.BigInteger(), nullable=False),
        sa.Column("cursor_s", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "graft_schedule_ticks",
        sa.Column("launch_plan", sa.String(255), primary_key=True),
        sa.Column("tick_s", sa.BigInteger(), primary_key=True),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("graft_schedule_ticks")
    op.drop_table("graft_launch_plans")
