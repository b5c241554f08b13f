"""`sdk.types.iterator.iterator`, as `flytekit.types.iterator.iterator`."""

from sdk.values.iterators import FlyteIterator

__all__ = ["FlyteIterator"]
