"""`sdk.extras`, as `flytekit.extras`: task types that are not Python functions
(`sdk.extras.tasks.shell`, `sdk.extras.sqlite3.task`)."""
