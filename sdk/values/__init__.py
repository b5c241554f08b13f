"""Values: Python values <-> JSON literals (one handler per type), and the value store."""

from sdk.values import (  # noqa: F401  (register handlers; a user's transformers come first)
    any_type,
    basemodel,
    builtin_types,
    file_types,
    iterators,
    schema,
    structured,
    transformer_handler,
)
