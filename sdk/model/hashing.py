"""`HashMethod`: a value's cache identity chosen by the user, as flytekit's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class HashMethod(Generic[T]):
    """Put on an output as `Annotated[T, HashMethod(fn)]`: the value that output takes is
    known to caches downstream by `fn(value)` (a string) instead of by its content, for
    example a DataFrame by a hash of its rows (`pandas.util.hash_pandas_object`)."""

    def __init__(self, function: Callable[[T], Any]):
        if not callable(function):
            raise TypeError(f"HashMethod takes a function, got {function!r}")
        self._function = function

    def calculate(self, obj: T) -> str:
        """The hash of `obj`: what the function returned, as a string."""
        return str(self._function(obj))

    def __repr__(self) -> str:
        return f"HashMethod({getattr(self._function, '__qualname__', self._function)!r})"
