"""`sdk.core.type_engine`, as `flytekit.core.type_engine`: extending the type system."""

from sdk.values.builtin_transformers import DictTransformer, ListTransformer
from sdk.values.type_engine import (
    AsyncTypeTransformer,
    BatchSize,
    RestrictedTypeError,
    SimpleTransformer,
    T,
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
)

__all__ = ["AsyncTypeTransformer", "BatchSize", "DictTransformer", "ListTransformer",
           "RestrictedTypeError", "SimpleTransformer", "T", "TypeEngine", "TypeTransformer",
           "TypeTransformerFailedError"]
