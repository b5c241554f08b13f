"""`sdk.types.iterator.json_iterator`, as `flytekit.types.iterator.json_iterator`."""

from sdk.values.iterators import JSON, JSONCollection, JSONIterator, JSONScalar

__all__ = ["JSON", "JSONCollection", "JSONIterator", "JSONScalar"]
