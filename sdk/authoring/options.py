"""The options `@task`, `@dynamic` and `@workflow` take, checked when a function is decorated.

Every option graft takes does what flytekit's does. An option of flytekit's that graft has no
use for (it runs without Kubernetes) or that is misspelt is a ConfigError naming it, never a
raw TypeError.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
from typing import Any

from sdk.authoring.caching import Cache, cache_options
from sdk.model.errors import ConfigError
from sdk.model.resources import Resources
from sdk.model.security import Secret
from sdk.model.spec import NodeSpec

TASK_OPTIONS = ("cache", "cache_version", "cache_serialize", "cache_ignore_input_vars",
                "retries", "timeout", "requests", "limits", "resources", "container_image",
                "secret_requests", "enable_deck", "disable_deck", "deck_fields",
                "pickle_untyped", "node_dependency_hints")
WORKFLOW_OPTIONS = ("failure_policy", "on_failure", "timeout", "pickle_untyped")

# flytekit options graft does not take, and why.
UNSUPPORTED = {
    "interruptible": "graft has no preemptible machines to opt into",
    "environment": "set environment variables on the workers instead",
    "pod_template": "graft runs without Kubernetes",
    "pod_template_name": "graft runs without Kubernetes",
    "accelerator": "graft runs without Kubernetes",
    "shared_memory": "graft runs without Kubernetes",
    "labels": "graft runs without Kubernetes",
    "annotations": "graft runs without Kubernetes",
    "task_config": "graft has no task plugins",
    "task_resolver": "graft imports tasks by module and name",
    "execution_mode": "graft has no execution modes",
    "deprecated": "graft does not publish tasks to a registry",
    "docs": "graft does not publish tasks to a registry",
    "default_options": "graft has no launch options",
    "node_dependency_hints_override": "a @dynamic's nodes are found when its body runs",
}

# What `.with_overrides(...)` may change on a task node, as flytekit's.
OVERRIDES = ("retries", "timeout", "requests", "limits", "resources", "container_image",
             "cache", "cache_version", "cache_serialize", "aliases")


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
        return self._with("packages", packages)

    def with_commands(self, commands: Any) -> ImageSpec:
        return self._with("commands", commands)

    def with_apt_packages(self, apt_packages: Any) -> ImageSpec:
        return self._with("apt_packages", apt_packages)

    def _with(self, option: str, more: Any) -> ImageSpec:
        listed = more if isinstance(more, list) else [more]
        return ImageSpec(self.name, **{**self.options,
                                       option: [*self.options.get(option, []), *listed]})

    def is_container(self) -> bool:
        """True: a task always runs where its image's packages are (the worker's own
        environment), so code guarded by `if image.is_container():` runs."""
        return True

    def exist(self) -> bool:
        """Whether the image was built: graft builds none, so False."""
        return False


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
    """Seconds, or None for no timeout (None or 0, flytekit's default)."""
    if timeout is None or (timeout == 0 and not isinstance(timeout, bool)):
        return None
    if isinstance(timeout, datetime.timedelta):
        if timeout.total_seconds() > 0:
            return timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    raise ConfigError(f"{where}: timeout must be seconds >= 0 or a timedelta, got "
                      f"{timeout!r}")


def image_name(image: Any, where: str) -> str | None:
    if image is None:
        return None
    if isinstance(image, ImageSpec):
        return image.image_name()
    if isinstance(image, str) and image:
        return image
    raise ConfigError(f"{where}: container_image must be an image name or an ImageSpec, got "
                      f"{image!r}")


def secret_requests(requests: Any, where: str) -> tuple[Secret, ...]:
    """The secrets a task asks for: a list (or tuple) of `Secret`s, or None."""
    if requests is None:
        return ()
    if not isinstance(requests, (list, tuple)):
        raise ConfigError(f"{where}: secret_requests must be a list of Secret(...), got "
                          f"{requests!r}")
    for secret in requests:
        if not isinstance(secret, Secret):
            raise ConfigError(f"{where}: secret_requests must hold Secret(group=..., key=...)s, "
                              f"got {secret!r}")
    return tuple(requests)


def dependency_hints(hints: Any, kind: str, where: str) -> tuple[Any, ...] | None:
    """flytekit's `node_dependency_hints`: the tasks, workflows and launch plans a @dynamic
    may call (a registry needs them; graft imports them by name and only checks them).
    ConfigError on a @task, or for anything else in the list."""
    if hints is None:
        return None
    if kind != "dynamic":
        raise ConfigError(f"{where}: node_dependency_hints should only be used on dynamic "
                          f"tasks; on static tasks and workflows the nodes are found "
                          f"automatically")
    try:
        listed = tuple(hints)
    except TypeError:
        raise ConfigError(f"{where}: node_dependency_hints must be a list of tasks, "
                          f"workflows or launch plans, got {hints!r}") from None
    for hint in listed:
        if getattr(hint, "kind", None) not in ("task", "dynamic", "workflow") \
                or not hasattr(hint, "node_spec"):
            raise ConfigError(f"{where}: node_dependency_hints lists {hint!r}, which is not a "
                              f"task, a workflow or a launch plan")
    return listed


def resources(requests: Any, limits: Any, both: Any, where: str) -> tuple[Resources, Resources]:
    """(requests, limits). `resources=` gives both, as in flytekit: a (request, limit) pair
    sets both, a single quantity the request only."""
    if both is not None:
        if requests is not None or limits is not None:
            raise ConfigError(f"{where}: give resources=, or requests= and limits=, not both")
        if not isinstance(both, Resources):
            raise ConfigError(f"{where}: resources must be Resources(...), got {both!r}")
        requests, limits = both.split()
    for label, res in (("requests", requests), ("limits", limits)):
        if res is not None and not isinstance(res, Resources):
            raise ConfigError(f"{where}: {label} must be Resources(...), got {res!r}")
        if res is not None and res.pairs():
            raise ConfigError(f"{where}: {label}={res!r} holds a (request, limit) pair for "
                              f"{', '.join(res.pairs())}; pairs go in resources=")
    return requests or Resources(), limits or Resources()


def overridden(node: NodeSpec, given: dict[str, Any], where: str) -> NodeSpec:
    """`node` with `.with_overrides(**given)` applied; ConfigError naming an option it does not
    take, or a node that is not a task's."""
    check_names(where, given, OVERRIDES)
    if node.kind not in ("task", "dynamic"):
        raise ConfigError(f"{where}: overrides apply to task and dynamic nodes; node "
                          f"{node.id!r} is a {node.kind}")
    changes: dict[str, Any] = {}
    if "retries" in given:
        retries = given["retries"]
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError(f"{where}: retries must be an int >= 0, got {retries!r}")
        changes["retries"] = retries
    if "timeout" in given:
        changes["timeout_s"] = timeout_seconds(given["timeout"], where)
    if {"requests", "limits", "resources"} & set(given):
        requests, limits = resources(given.get("requests"), given.get("limits"),
                                     given.get("resources"), where)
        if "requests" in given or "resources" in given:
            changes["requests"] = requests.to_json()
        if "limits" in given or limits != Resources():  # single quantities keep the limits
            changes["limits"] = limits.to_json()
    if "container_image" in given:
        changes["image"] = image_name(given["container_image"], where)
    if given.get("aliases") is not None:
        changes["aliases"] = _aliases(given["aliases"], node, where)
    if {"cache", "cache_version", "cache_serialize"} & set(given):
        if isinstance(given.get("cache"), Cache):
            opts = cache_options(where, node.inputs_types, given["cache"],
                                 given.get("cache_version", ""),
                                 given.get("cache_serialize", False))
        else:
            opts = cache_options(where, node.inputs_types, given.get("cache", node.cache),
                                 given.get("cache_version", node.cache_version),
                                 given.get("cache_serialize", node.cache_serialize),
                                 node.cache_ignored)
        changes.update(opts.fields())
    return dataclasses.replace(node, **changes)


def _aliases(aliases: Any, node: NodeSpec, where: str) -> tuple[tuple[str, str], ...]:
    """flytekit's output aliases (output name -> alias), checked and recorded."""
    if not isinstance(aliases, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise ConfigError(f"{where}: aliases should be specified as dict[str, str] (output "
                          f"name -> alias), got {aliases!r}")
    unknown = sorted(set(aliases) - set(node.outputs_types))
    if unknown:
        raise ConfigError(f"{where}: aliases name output(s) {', '.join(unknown)}, which node "
                          f"{node.id!r} does not have (outputs: "
                          f"{', '.join(node.outputs_types) or 'none'})")
    return tuple(aliases.items())
