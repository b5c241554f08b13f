"""Values: Python values <-> JSON literals (one handler per type), and the value store."""

from sdk.values import builtin_types, file_types, structured  # noqa: F401  (register handlers)
