"""Reading docker-compose.yml as Compose does, for the tests that prove it without Docker.

`load(env)` parses the file (YAML merge keys resolved) and interpolates `${VAR}`,
`${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+other}`,
`$VAR` and `$$` with `env`, as the Compose Specification's interpolation section describes.
A required variable that is missing raises `MissingVariable` with the file's message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
EXAMPLE_ENV = REPO / "deploy" / "example.env"

_TOKEN = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$",
                     re.DOTALL)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset (or empty)."""


def read_env_file(path: Path = EXAMPLE_ENV) -> dict[str, str]:
    """`NAME=value` lines of a Compose .env file (comments and blank lines skipped)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["bare"]:
            return env.get(match["bare"], "")
        parts = _BRACED.match(match["braced"])
        if parts is None:
            raise ValueError(f"invalid interpolation ${{{match['braced']}}}")
        name, op, arg = parts["name"], parts["op"], interpolate(parts["arg"] or "", env)
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else value or ""
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return value or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    return _TOKEN.sub(one, text)


def _walk(obj: Any, env: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return interpolate(obj, env)
    if isinstance(obj, list):
        return [_walk(x, env) for x in obj]
    if isinstance(obj, dict):
        return {k: _walk(v, env) for k, v in obj.items()}
    return obj


def load(env: dict[str, str], path: Path = COMPOSE) -> dict[str, Any]:
    """The compose file as a dict, interpolated with `env`."""
    return _walk(yaml.safe_load(path.read_text()), env)


def graft_services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services run from the graft image (those with a `build`)."""
    return {name: svc for name, svc in project["services"].items() if "build" in svc}


def start_order(project: dict[str, Any], names: list[str]) -> list[str]:
    """`names` with each after the services it depends on."""
    services = project["services"]
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in names:
            return
        for dep in services[name].get("depends_on", {}):
            visit(dep)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def dockerfile_entrypoint(path: Path = REPO / "Dockerfile") -> list[str]:
    """The exec-form ENTRYPOINT of the Dockerfile."""
    for line in path.read_text().splitlines():
        if line.startswith("ENTRYPOINT "):
            return list(yaml.safe_load(line.removeprefix("ENTRYPOINT ")))
    raise AssertionError("the Dockerfile has no ENTRYPOINT")
