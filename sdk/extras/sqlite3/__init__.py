"""`sdk.extras.sqlite3`, as `flytekit.extras.sqlite3`: queries of SQLite files as tasks
(`.task`)."""
