"""`sdk.core.base_sql_task`, as `flytekit.core.base_sql_task`: the base of SQL task classes."""

from sdk.authoring.sql_task import SQLTask

__all__ = ["SQLTask"]
