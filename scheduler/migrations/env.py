"""Alembic environment: runs on the connection `scheduler.db.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from scheduler.db import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    url = config.get_main_option("sqlalchemy.url")
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
