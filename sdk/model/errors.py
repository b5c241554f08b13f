"""graft's exceptions: one root, user errors apart from infrastructure errors."""

from __future__ import annotations

from dataclasses import dataclass


class GraftError(Exception):
    """Root of every error graft raises on purpose."""


class CompileError(GraftError):
    """A workflow or dynamic body could not be turned into a graph (raised before anything runs)."""


class SpecError(GraftError):
    """A graph spec is malformed: unknown node, cycle, type mismatch, bad JSON."""


class TypeConversionError(GraftError):
    """A value does not match the type its interface declares."""


class ConfigError(GraftError):
    """A setting (env var, CLI flag, resource quantity) is malformed."""


class StoreError(GraftError):
    """The value store failed, or an object it should hold is gone."""


class StoreObjectMissing(StoreError):
    """An object the store should hold is not there (as opposed to the store failing)."""


class TierError(GraftError):
    """A node needs more memory than the largest tier offers."""


class StoreIntegrityError(StoreError):
    """A content-addressed store object does not match the hash in its key."""


class BrokerUnavailable(GraftError):
    """No message broker answers at the configured URL."""


class TaskError(GraftError):
    """User code raised inside a task or dynamic body."""

    def __init__(self, message: str, *, node_id: str = "", task: str = "", traceback: str = ""):
        super().__init__(message)
        self.node_id = node_id
        self.task = task
        self.traceback = traceback


class TaskTimeout(GraftError):
    """A task or dynamic body ran past its `timeout` (retried per its `retries`)."""


class FlyteRecoverableException(Exception):
    """Raised by a task to ask for a retry. graft retries every exception a task raises, up
    to its `retries`; this one exists so that Flyte programs raising it run unchanged (flytekit
    retries only this one on a cluster)."""


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
