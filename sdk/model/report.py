"""The one type every outcome of a node attempt travels in, and graft's failure model.

A `Report` says what one attempt of one node gave: values, a generated sub-graph (a dynamic),
values from the cache, or a failure. Workers, the local runner and the scheduler (for attempts
it finds lost) all produce reports, and the engine takes them at one entry point,
`Engine.apply`.

Failures are of three kinds, and the kind alone decides what happens next:

| kind   | what failed                                      | retried                           |
| ------ | ------------------------------------------------ | --------------------------------- |
| USER   | the task's code raised (or ran past its timeout)  | per the task's `retries`          |
| SYSTEM | graft's infrastructure: worker lost, store or     | system retries (default 3), with  |
|        | broker blip                                       | exponential backoff and jitter    |
| DATA   | bad input, type conversion, integrity check,      | never                             |
|        | unimportable code                                 |                                   |

Which kind an exception or a process's early end is: `sdk.model.failures`, by the error
tree of `sdk.model.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.errors import FailureKind, SpecError
from sdk.model.spec import GraphSpec


class Outcome(str, Enum):
    VALUES = "values"
    SUBGRAPH = "subgraph"
    CACHED = "cached"
    ERROR = "error"
    MAPPED = "mapped"  # a map node's lists have `items` items
    BRANCHED = "branched"  # a conditional's case number `case` holds
    GATHERED = "gathered"  # the driver gathered a large output into the store (sdk.model.gather)


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed: its kind, the exception type's name, a message naming what and
    where, and the user's traceback when user code raised."""

    kind: FailureKind
    type: str
    message: str
    traceback: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"kind": self.kind.value, "type": self.type, "message": self.message}
        if self.traceback:
            out["traceback"] = self.traceback
        return out

    @classmethod
    def from_json(cls, data: Any) -> Failure:
        if not isinstance(data, dict):
            raise SpecError(f"a failure is a JSON object, got {type(data).__name__}")
        try:
            kind = FailureKind(data.get("kind", FailureKind.USER.value))
        except ValueError:
            raise SpecError(f"unknown failure kind {data.get('kind')!r}") from None
        return cls(kind, str(data.get("type") or "Error"), str(data.get("message") or ""),
                   str(data.get("traceback") or ""))


def user_failure(type_: str, message: str, traceback: str = "") -> Failure:
    return Failure(FailureKind.USER, type_, message, traceback)


def system_failure(type_: str, message: str) -> Failure:
    return Failure(FailureKind.SYSTEM, type_, message)


def data_failure(type_: str, message: str) -> Failure:
    return Failure(FailureKind.DATA, type_, message)


@dataclass(frozen=True)
class Report:
    """The outcome of attempt `attempt` of node `node`. Exactly one of `outputs` (values,
    cached or gathered), `subgraph`, `error`, `items` (mapped) or `case` (branched) is set,
    as `outcome` says. `worker`, `duration_s` and `peak_memory_bytes` say where it ran, how
    long, and its peak resident memory; `ended_at`, when the scheduler took the report (unix
    seconds, its clock: the attempt ran from `ended_at - duration_s`). The engine records
    them but decides nothing on them."""

    node: str
    attempt: int
    outcome: Outcome
    outputs: dict[str, Binding] | None = None
    subgraph: GraphSpec | None = None
    error: Failure | None = None
    items: int | None = None
    case: int | None = None
    worker: str = ""
    duration_s: float | None = None
    peak_memory_bytes: int | None = None
    ended_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def attempt_info(self) -> dict[str, Any]:
        """Where the attempt ran, how long and its peak memory, the fields that are set (what
        report messages and events carry beside the outcome)."""
        info: dict[str, Any] = {"worker": self.worker} if self.worker else {}
        if self.duration_s is not None:
            info["duration_s"] = self.duration_s
        if self.peak_memory_bytes is not None:
            info["peak_memory_bytes"] = self.peak_memory_bytes
        if self.ended_at is not None:
            info["ended_at"] = self.ended_at
        return info

    @classmethod
    def values(cls, node: str, attempt: int, outputs: dict[str, Binding],
               **info: Any) -> Report:
        return cls(node, attempt, Outcome.VALUES, outputs=outputs, **info)

    @classmethod
    def cached(cls, node: str, attempt: int, outputs: dict[str, Binding],
               **info: Any) -> Report:
        return cls(node, attempt, Outcome.CACHED, outputs=outputs, **info)

    @classmethod
    def grafted(cls, node: str, attempt: int, subgraph: GraphSpec, **info: Any) -> Report:
        return cls(node, attempt, Outcome.SUBGRAPH, subgraph=subgraph, **info)

    @classmethod
    def failed(cls, node: str, attempt: int, error: Failure, **info: Any) -> Report:
        return cls(node, attempt, Outcome.ERROR, error=error, **info)

    @classmethod
    def mapped(cls, node: str, attempt: int, items: int, **info: Any) -> Report:
        return cls(node, attempt, Outcome.MAPPED, items=items, **info)

    @classmethod
    def gathered(cls, node: str, attempt: int, outputs: dict[str, Binding]) -> Report:
        """The driver gathered the outputs a completion of `node` left to it (`ROOT`, "", for
        the execution's own; `sdk.model.gather`): `outputs` by name, each a stored value."""
        return cls(node, attempt, Outcome.GATHERED, outputs=outputs)

    @classmethod
    def branched(cls, node: str, attempt: int, case: int, **info: Any) -> Report:
        return cls(node, attempt, Outcome.BRANCHED, case=case, **info)
