"""Cache options: flytekit's `Cache(...)` object and its keyword form, checked into one
`CacheOptions`, and the `HashMethod`s a function's outputs are annotated with."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sdk.model.errors import ConfigError
from sdk.model.hashing import HashMethod


class Cache:
    """flytekit's cache settings object: `@task(cache=Cache(version="1", serialize=True,
    ignored_inputs=("seed",)))`.

    `version` is required (flytekit computes one only from cache policies, which graft does
    not take); `salt` is added to it; `serialize` makes identical runs started at once run
    once; `ignored_inputs` leaves those inputs out of the cache key."""

    def __init__(self, version: str | None = None, serialize: bool = False,
                 ignored_inputs: Iterable[str] | str = (), salt: str = "",
                 policies: Any = None):
        self.version = version
        self.serialize = serialize
        self.ignored_inputs = ((ignored_inputs,) if isinstance(ignored_inputs, str)
                               else tuple(ignored_inputs))
        self.salt = salt
        self.policies = policies

    def __repr__(self) -> str:
        return (f"Cache(version={self.version!r}, serialize={self.serialize!r}, "
                f"ignored_inputs={self.ignored_inputs!r})")


@dataclass(frozen=True)
class CacheOptions:
    """What a task's cache options come to: on or off, the version the key uses, whether
    identical runs are serialized, and the inputs the key leaves out."""

    enabled: bool = False
    version: str = ""
    serialize: bool = False
    ignored: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        """The NodeSpec fields these options set."""
        return {"cache": self.enabled, "cache_version": self.version,
                "cache_serialize": self.serialize, "cache_ignored": self.ignored}


def cache_options(where: str, inputs: Iterable[str], cache: Any = False,
                  cache_version: Any = "", cache_serialize: Any = False,
                  cache_ignore_input_vars: Any = ()) -> CacheOptions:
    """The options `cache=` (True, False or a `Cache`) and the keyword forms give; ConfigError
    naming the option that is wrong."""
    if isinstance(cache, Cache):
        if cache_version or cache_serialize or cache_ignore_input_vars:
            raise ConfigError(f"{where}: give cache=Cache(...) or cache=True with "
                              f"cache_version=/cache_serialize=/cache_ignore_input_vars=, "
                              f"not both")
        if cache.policies is not None:
            raise ConfigError(f"{where}: Cache(policies=...) is not supported: graft keys "
                              f"on the version you give")
        if not cache.version:
            raise ConfigError(f"{where}: Cache(...) needs a version (e.g. Cache(version='1'))"
                              f" so that changing the code can invalidate old results")
        cache_version = f"{cache.version}{'+' + cache.salt if cache.salt else ''}"
        cache_serialize, cache_ignore_input_vars = cache.serialize, cache.ignored_inputs
        cache = True
    if not isinstance(cache, bool):
        raise ConfigError(f"{where}: cache must be True, False or Cache(...), got {cache!r}")
    if not isinstance(cache_version, str):
        raise ConfigError(f"{where}: cache_version must be a string, got {cache_version!r}")
    if not isinstance(cache_serialize, bool):
        raise ConfigError(f"{where}: cache_serialize must be True or False, got "
                          f"{cache_serialize!r}")
    if cache and not cache_version:
        raise ConfigError(f"{where}: cache=True needs a cache_version (e.g. '0.1') so that "
                          f"changing the code can invalidate old results")
    if cache_serialize and not cache:
        raise ConfigError(f"{where}: cache_serialize=True needs cache=True")
    ignored = ((cache_ignore_input_vars,) if isinstance(cache_ignore_input_vars, str)
               else tuple(cache_ignore_input_vars or ()))
    known = set(inputs)
    for name in ignored:
        if name not in known:
            raise ConfigError(f"{where}: cache ignores input {name!r}, which it does not have "
                              f"(inputs: {', '.join(sorted(known)) or 'none'})")
    return CacheOptions(cache, cache_version, cache_serialize, tuple(sorted(set(ignored))))


def output_hashers(ret: Any, names: list[str]) -> dict[str, Callable[[Any], str]]:
    """`{output name: HashMethod.calculate}` for each output annotated
    `Annotated[T, HashMethod(fn)]`; `ret` is the return annotation, `names` the outputs'."""
    if typing.get_origin(ret) is typing.Annotated:
        types = [ret]
    elif isinstance(ret, tuple):
        types = list(ret)
    elif isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields"):
        hints = typing.get_type_hints(ret, include_extras=True)
        types = [hints.get(n) for n in ret._fields]
    elif typing.get_origin(ret) in (tuple, typing.Tuple):  # noqa: UP006
        types = list(typing.get_args(ret))
    else:
        types = [ret]
    found: dict[str, Callable[[Any], str]] = {}
    for name, tp in zip(names, types):
        if typing.get_origin(tp) is typing.Annotated:
            for meta in tp.__metadata__:
                if isinstance(meta, HashMethod):
                    found[name] = meta.calculate
    return found
