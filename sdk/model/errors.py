"""graft's exceptions: one root, user errors apart from infrastructure errors.

Each class says what kind of failure it makes of a node attempt it ends (`kind`), and so
whether another try may help (`sdk.model.failures` classifies by it):

| kind   | what failed                                 | retried                              |
| ------ | ------------------------------------------- | ------------------------------------ |
| USER   | the task's code (raised, ran too long)      | per the task's `retries`             |
| SYSTEM | graft's infrastructure (store, broker)      | system retries, with backoff: another |
|        |                                             | try may not meet it                  |
| DATA   | the data: a value, a spec, a store object   | never: no try can succeed            |
|        | gone or altered                             |                                      |

A class of no kind of its own (`None`) takes the kind of where it was raised: USER inside
user code, DATA outside it.

Where flytekit raises a builtin exception for the same fault, graft's is an instance of that
builtin too, so `except ValueError` (or `pytest.raises(AssertionError)`) written for flytekit
still catches it: a compile error is a ValueError, and also an AssertionError and a TypeError
where flytekit asserts or raises a type error; a setting refused is a ValueError; a value of the
wrong type is a TypeError, an AssertionError and a ValueError, as flytekit's
`TypeTransformerFailedError` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from sdk.model.flyte_errors import TypeTransformerFailedError


class FailureKind(str, Enum):
    USER = "USER"
    SYSTEM = "SYSTEM"
    DATA = "DATA"


class GraftError(Exception):
    """Root of every error graft raises on purpose."""

    kind: ClassVar[FailureKind | None] = None


class CompileError(GraftError, ValueError):
    """A workflow or dynamic body could not be turned into a graph (raised before anything
    runs). A ValueError, as what flytekit raises for most of these (iterating or testing a
    Promise, mapping a dynamic); the subclasses below are the others."""

    kind = FailureKind.DATA


class BindingError(CompileError, AssertionError, TypeError):
    """A call, a body's outputs or a failure handler do not match the interface: an input
    missing, unknown or given twice, outputs of the wrong count, a handler whose inputs are
    not the workflow's, a conditional left unfinished or given a plain bool. An
    AssertionError too, as flytekit asserts these, and a TypeError, as Python (and flytekit,
    for a direct call missing an input) says of a call's arguments."""


class CompileTypeError(CompileError, TypeTransformerFailedError):
    """A value or Promise of the wrong type for an input or output (or `len()` of a
    Promise): a TypeError and an AssertionError too, as flytekit's type errors are (its
    TypeTransformerFailedError, which this is)."""


class SpecError(GraftError):
    """A graph spec is malformed: unknown node, cycle, type mismatch, bad JSON."""

    kind = FailureKind.DATA


class TypeConversionError(GraftError, TypeTransformerFailedError):
    """A value does not match the type its interface declares: flytekit's
    `TypeTransformerFailedError` (a TypeError, AssertionError and ValueError)."""

    kind = FailureKind.DATA


class ConfigError(GraftError, ValueError):
    """A setting (env var, CLI flag, resource quantity, decorator option) is malformed: a
    ValueError, as flytekit's refusals of options are."""


class StoreError(GraftError):
    """The value store failed, or an object it should hold is gone."""

    kind = FailureKind.SYSTEM


class StoreObjectMissing(StoreError):
    """An object the store should hold is not there (as opposed to the store failing)."""

    kind = FailureKind.DATA


class TierError(GraftError):
    """A node needs more memory than the largest tier offers."""


class ReferenceNotRunnable(GraftError, NotImplementedError):
    """A reference entity (`reference_task`, ...) was run in-process, unmocked: it names code
    registered on a cluster. A NotImplementedError, as flytekit raises there."""


class StoreIntegrityError(StoreError):
    """A content-addressed store object does not match the hash in its key."""

    kind = FailureKind.DATA


class BrokerUnavailable(GraftError):
    """No message broker answers at the configured URL."""

    kind = FailureKind.SYSTEM


class TaskError(GraftError):
    """User code raised inside a task or dynamic body."""

    kind = FailureKind.USER

    def __init__(self, message: str, *, node_id: str = "", task: str = "", traceback: str = ""):
        super().__init__(message)
        self.node_id = node_id
        self.task = task
        self.traceback = traceback


class TaskTimeout(GraftError):
    """A task or dynamic body ran past its `timeout` (retried per its `retries`)."""

    kind = FailureKind.USER


class ConditionalFailed(GraftError, ValueError):
    """A conditional took its `.else_().fail(message)` case. In-process the workflow call
    raises it; a ValueError, as flytekit raises there."""

    kind = FailureKind.USER


class ExecutionAborted(GraftError):
    """An execution was cancelled (`Execution.cancel()`, `graft cancel`) before it ended."""

    def __init__(self, execution_id: str, message: str = ""):
        self.execution_id = execution_id
        super().__init__(message or f"execution {execution_id} was aborted")


@dataclass(frozen=True)
class NodeFailure:
    """One failed node of an execution: what `ExecutionFailed.failures` holds. A failure of
    the whole execution (its workflow timeout) has node id "" and the workflow as task."""

    node_id: str
    task: str
    error_type: str
    message: str
    traceback: str = ""
    kind: str = ""  # USER, SYSTEM or DATA (see sdk.model.report)

    def describe(self) -> str:
        who = (f"node {self.node_id!r} (task {self.task})" if self.node_id
               else f"the execution of {self.task}")
        head = f"{who} failed: {self.error_type}: {self.message}"
        return f"{head}\n{self.traceback.rstrip()}" if self.traceback else head


class ExecutionFailed(GraftError):
    """An execution ended in FAILED; `failures` lists each failed node with the user's traceback."""

    def __init__(self, execution_id: str, failures: list[NodeFailure], message: str = ""):
        self.execution_id = execution_id
        self.failures = failures
        lines = [message or f"execution {execution_id} failed"]
        lines += [f.describe() for f in failures]
        super().__init__("\n".join(lines))
