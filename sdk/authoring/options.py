"""The options `@task`, `@dynamic` and `@workflow` take, checked when a function is decorated.

Every option graft takes does what flytekit's does. An option of flytekit's that graft has no
use for (it runs without Kubernetes) or that is misspelt is a ConfigError naming it, never a
raw TypeError.
"""

from __future__ import annotations

import datetime
import difflib
from typing import Any

from sdk.model.errors import ConfigError
from sdk.model.resources import Resources

TASK_OPTIONS = ("cache", "cache_version", "retries", "timeout", "requests", "limits",
                "resources", "container_image")
WORKFLOW_OPTIONS = ("failure_policy", "on_failure")

# flytekit options graft does not take, and why.
UNSUPPORTED = {
    "interruptible": "graft has no preemptible machines to opt into",
    "environment": "set environment variables on the workers instead",
    "secret_requests": "graft has no secret store; give workers their secrets themselves",
    "pod_template": "graft runs without Kubernetes",
    "pod_template_name": "graft runs without Kubernetes",
    "accelerator": "graft runs without Kubernetes",
    "shared_memory": "graft runs without Kubernetes",
    "labels": "graft runs without Kubernetes",
    "annotations": "graft runs without Kubernetes",
    "task_config": "graft has no task plugins",
    "task_resolver": "graft imports tasks by module and name",
    "execution_mode": "graft has no execution modes",
    "node_dependency_hints": "a @dynamic's nodes are found when its body runs",
    "deprecated": "graft does not publish tasks to a registry",
    "docs": "graft does not publish tasks to a registry",
    "enable_deck": "graft has no decks",
    "disable_deck": "graft has no decks",
    "deck_fields": "graft has no decks",
    "pickle_untyped": "graft pickles values of types it has no converter for already",
    "default_options": "graft has no launch options",
}


class ImageSpec:
    """flytekit's image spec (`ImageSpec(name=..., packages=[...], registry=...)`), accepted
    with any of its options so Flyte programs run unchanged. graft runs tasks in the workers'
    own environment, without containers: the image is recorded in the spec and shown in
    `nodes()`, nothing more."""

    def __init__(self, name: str = "flytekit", **options: Any):
        self.name = name
        self.options = options

    def __repr__(self) -> str:
        return f"ImageSpec({self.image_name()!r})"

    def image_name(self) -> str:
        registry = self.options.get("registry")
        return f"{registry}/{self.name}" if registry else self.name

    def with_packages(self, packages: Any) -> ImageSpec:
        listed = packages if isinstance(packages, list) else [packages]
        return ImageSpec(self.name, **{**self.options,
                                       "packages": [*self.options.get("packages", []), *listed]})


def check_names(where: str, given: dict[str, Any], known: tuple[str, ...]) -> None:
    """ConfigError for the first option not in `known`."""
    for name in given:
        if name in known:
            continue
        if name in UNSUPPORTED:
            raise ConfigError(f"{where}: option {name!r} is a flytekit option that graft does "
                              f"not take: {UNSUPPORTED[name]}")
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: unknown option {name!r}{hint} (options: "
                          f"{', '.join(known)})")


def timeout_seconds(timeout: Any, where: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        if timeout.total_seconds() > 0:
            return timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    raise ConfigError(f"{where}: timeout must be seconds > 0 or a timedelta, got {timeout!r}")


def image_name(image: Any, where: str) -> str | None:
    if image is None:
        return None
    if isinstance(image, ImageSpec):
        return image.image_name()
    if isinstance(image, str) and image:
        return image
    raise ConfigError(f"{where}: container_image must be an image name or an ImageSpec, got "
                      f"{image!r}")


def resources(requests: Any, limits: Any, both: Any, where: str) -> tuple[Resources, Resources]:
    """(requests, limits); `resources=` sets both, as in flytekit."""
    if both is not None:
        if requests is not None or limits is not None:
            raise ConfigError(f"{where}: give resources=, or requests= and limits=, not both")
        requests = limits = both
    for label, res in (("requests", requests), ("limits", limits)):
        if res is not None and not isinstance(res, Resources):
            raise ConfigError(f"{where}: {label} must be Resources(...), got {res!r}")
    return requests or Resources(), limits or Resources()
