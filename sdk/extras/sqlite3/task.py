"""`sdk.extras.sqlite3.task`, as `flytekit.extras.sqlite3.task` (`sdk.authoring.sql_task`).

    from sdk.extras.sqlite3.task import SQLite3Config, SQLite3Task
"""

from sdk.authoring.sql_task import SQLite3Config, SQLite3Task, unarchive_file

__all__ = ["SQLite3Config", "SQLite3Task", "unarchive_file"]
