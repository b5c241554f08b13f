"""Cache options: flytekit's `Cache(...)` object and its keyword form, checked into one
`CacheOptions`, and the `HashMethod`s a function's outputs are annotated with."""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sdk.model.errors import ConfigError
from sdk.model.hashing import HashMethod


@dataclass
class VersionParameters:
    """What a `CachePolicy` computes a version from: the task's function and its image
    (flytekit's, at `sdk.core.cache`)."""

    func: Callable[..., Any]
    container_image: Any = None
    pod_template: Any = None
    pod_template_name: str | None = None


@runtime_checkable
class CachePolicy(Protocol):
    """Computes a cache version for a task: `get_version(salt, params)` (a string), as
    flytekit's protocol. `Cache(policies=[...])` joins what its policies give into one
    version, so changing what a policy looks at (the function's source, say) invalidates the
    old results."""

    def get_version(self, salt: str, params: VersionParameters) -> str: ...


@dataclass
class Cache:
    """flytekit's cache settings object: `@task(cache=Cache(version="1", serialize=True,
    ignored_inputs=("seed",)))`.

    Without a `version`, the cache `policies` (one `CachePolicy` or a list) compute it: the
    SHA-256 of what each policy's `get_version(salt, params)` gives, in order (`salt` goes to
    the policies only, as in flytekit). `serialize` makes identical runs started at once run
    once; `ignored_inputs` leaves those inputs out of the cache key. ConfigError (flytekit: a
    ValueError) with neither a version nor a policy."""

    version: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = ()
    salt: str = ""
    policies: list[CachePolicy] | CachePolicy | None = None

    def __post_init__(self) -> None:
        given = self.policies
        if given is None:
            self._policies: list[CachePolicy] = []
        elif isinstance(given, CachePolicy):
            self._policies = [given]
        elif isinstance(given, list) and all(isinstance(p, CachePolicy) for p in given):
            self._policies = list(given)
        else:
            raise ConfigError(f"Cache(policies=...) takes a CachePolicy (an object with "
                              f"get_version(salt, params)) or a list of them, got {given!r}")
        if self.version is None and not self._policies:
            raise ConfigError("Cache(...): if version is not defined then at least one cache "
                              "policy needs to be set (e.g. Cache(version='1'))")

    def get_ignored_inputs(self) -> tuple[str, ...]:
        ignored = self.ignored_inputs
        return (ignored,) if isinstance(ignored, str) else tuple(ignored)

    def get_version(self, params: VersionParameters) -> str:
        """The version given, or the one the policies compute for `params`; ConfigError
        naming the policy that failed."""
        if self.version is not None:
            return self.version
        joined = ""
        for policy in self._policies:
            try:
                joined += policy.get_version(self.salt, params)
            except Exception as exc:
                raise ConfigError(f"Failed to generate version for cache policy {policy}: "
                                  f"{type(exc).__name__}: {exc}. Please consider setting the "
                                  f"version in the Cache definition, e.g. "
                                  f"Cache(version='v1.2.3')") from exc
        return hashlib.sha256(joined.encode()).hexdigest()


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
                  cache_ignore_input_vars: Any = (),
                  params: VersionParameters | None = None) -> CacheOptions:
    """The options `cache=` (True, False or a `Cache`) and the keyword forms give; ConfigError
    naming the option that is wrong. A `Cache` without a version computes one from `params`
    (the task's function and image) with its policies; without `params` (an override, as
    in flytekit) it must have a version."""
    if isinstance(cache, Cache):
        if cache_version or cache_serialize or cache_ignore_input_vars:
            raise ConfigError(f"{where}: give cache=Cache(...) or cache=True with "
                              f"cache_version=/cache_serialize=/cache_ignore_input_vars=, "
                              f"not both")
        if cache.version is None and params is None:
            raise ConfigError(f"{where}: must specify cache version when overriding "
                              f"(Cache(version=...))")
        try:
            cache_version = cache.get_version(params)  # type: ignore[arg-type]
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc.__cause__
        if not isinstance(cache_version, str) or not cache_version:
            raise ConfigError(f"{where}: Cache(version=...) must be a non-empty string, got "
                              f"{cache_version!r}")
        cache_serialize, cache_ignore_input_vars = cache.serialize, cache.get_ignored_inputs()
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
