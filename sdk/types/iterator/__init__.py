"""`sdk.types.iterator`, as `flytekit.types.iterator`: `Iterator[JSON]` values and what an
`Iterator[T]` input is.

    from sdk.types.iterator import JSON

    @task
    def rows() -> Iterator[JSON]:
        yield {"a": 1}
"""

from sdk.values.iterators import JSON, FlyteIterator, JSONIterator

__all__ = ["JSON", "FlyteIterator", "JSONIterator"]
