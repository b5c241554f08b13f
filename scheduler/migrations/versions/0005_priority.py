"""Executions have a priority: the scheduler sends the ready attempts of higher ones first
(scheduler/fair.py), and keeps that order after a restart.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graft_executions") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("graft_executions") as batch:
        batch.drop_column("priority")
