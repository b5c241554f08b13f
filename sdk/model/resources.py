"""`Resources` and Kubernetes quantity parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sdk.model.errors import ConfigError

_UNITS = {
    "": 1,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_memory(value: str | int, *, what: str = "memory") -> int:
    """Parse a Kubernetes memory quantity ("600Mi", "1G", "1048576") into bytes.

    Raises ConfigError naming `what` when the quantity is malformed.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a quantity like '600Mi', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{what}: a quantity cannot be negative, got {value}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{what}: expected a quantity like '600Mi', got {type(value).__name__}")
    m = _QUANTITY.match(value)
    if not m or m.group(2) not in _UNITS:
        units = ", ".join(u for u in _UNITS if u)
        raise ConfigError(
            f"{what}: malformed quantity {value!r}; write a number with an optional unit "
            f"({units}), e.g. '600Mi' or '2Gi'"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_cpu(value: str | int | float, *, what: str = "cpu") -> float:
    """Parse a CPU quantity ("500m", "2", 0.5) into cores."""
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected cores like '2' or '500m', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            pass
    raise ConfigError(f"{what}: malformed CPU quantity {value!r}; write e.g. '2' or '500m'")


def format_memory(n_bytes: int) -> str:
    """Render bytes as the shortest exact binary quantity ("1Gi", "600Mi", "1000")."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        size = _UNITS[unit]
        if n_bytes and n_bytes % size == 0:
            return f"{n_bytes // size}{unit}"
    return str(n_bytes)


_FIELDS = ("cpu", "mem", "gpu", "ephemeral_storage")


@dataclass(frozen=True)
class Resources:
    """CPU and memory for a task, as in Flyte: `Resources(cpu="1", mem="600Mi")`.

    Quantities are validated when the object is made, so a typo fails at decoration time.
    `ephemeral_storage` (a quantity like `mem`) is recorded in the spec, as `cpu` and `gpu`
    are; only `mem` chooses where a node runs.

    For `resources=` (not `requests=` or `limits=`), a quantity may be a pair,
    `Resources(cpu=("1", "2"))`: the request and the limit. A single quantity there is the
    request only, as in flytekit (`split`).
    """

    cpu: str | int | float | tuple | list | None = None
    mem: str | int | tuple | list | None = None
    gpu: str | int | tuple | list | None = None
    ephemeral_storage: str | int | tuple | list | None = None

    def __post_init__(self) -> None:
        check = {"cpu": parse_cpu, "mem": parse_memory, "gpu": _parse_gpu,
                 "ephemeral_storage": parse_memory}
        for name in _FIELDS:
            value = getattr(self, name)
            if isinstance(value, (tuple, list)):
                if len(value) != 2:
                    raise ConfigError(f"Resources({name}={value!r}): a pair is (request, limit), "
                                      f"of length 2")
                value = tuple(value)
                object.__setattr__(self, name, value)
                for one in value:
                    check[name](one, what=f"Resources({name}=...)")
            elif value is not None:
                check[name](value, what=f"Resources({name}=...)")

    def split(self) -> tuple[Resources, Resources]:
        """(requests, limits) of `resources=`: a pair gives both, a single quantity the
        request only (flytekit's `ResourceSpec.from_multiple_resource`)."""
        requests, limits = {}, {}
        for name in _FIELDS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                requests[name], limits[name] = value
            elif value is not None:
                requests[name] = value
        return Resources(**requests), Resources(**limits)

    def pairs(self) -> list[str]:
        """The fields given as (request, limit) pairs."""
        return [name for name in _FIELDS if isinstance(getattr(self, name), tuple)]

    @property
    def memory_bytes(self) -> int | None:
        return None if self.mem is None else parse_memory(self.mem)

    @property
    def cpu_cores(self) -> float | None:
        return None if self.cpu is None else parse_cpu(self.cpu)

    def to_json(self) -> dict:
        out: dict = {}
        if self.cpu is not None:
            out["cpu"] = self.cpu_cores
        if self.mem is not None:
            out["mem_bytes"] = self.memory_bytes
        if self.gpu is not None:
            out["gpu"] = _parse_gpu(self.gpu)
        if self.ephemeral_storage is not None:
            out["ephemeral_storage_bytes"] = parse_memory(self.ephemeral_storage)
        return out


def _parse_gpu(value: str | int, what: str = "Resources(gpu=...)") -> int:
    """A GPU count: an int >= 0 or a string of digits ("1")."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    raise ConfigError(f"{what}: expected a whole number of GPUs like 1 or '2', got {value!r}")
