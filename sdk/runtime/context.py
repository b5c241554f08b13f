"""`current_context()`: what a running task knows about its attempt.

    ctx = current_context()
    ctx.execution_id.name, ctx.node_id, ctx.attempt, ctx.working_directory
    state = ctx.checkpoint.read()          # bytes a previous attempt of this node wrote, or None
    ctx.checkpoint.write(b"...")           # kept in the store for the next attempt
    ctx.logging.info("step %d", i)         # records kept per attempt (Execution.log_records)
    ctx.secrets.get("group", "key")        # a secret, read where it runs (sdk.runtime.secrets)

The checkpoint of a node lives in the store under `checkpoints/<execution>/<node>/checkpoint`
(a file beside its children's folders, for a dynamic), so a retried
attempt resumes where the last one stopped, wherever it runs. `read()` also sees what this
attempt wrote (flytekit's does not).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sdk.model.errors import GraftError, StoreError, StoreObjectMissing
from sdk.model.store import Store
from sdk.runtime.secrets import SecretsManager, task_running


@dataclass(frozen=True)
class ExecutionId:
    """Which execution: `.name` is its id (project and domain are Flyte's, always "graft")."""

    name: str
    project: str = "graft"
    domain: str = "graft"

    def __str__(self) -> str:
        return self.name


class Checkpoint:
    """Bytes a node keeps across its attempts."""

    def __init__(self, store: Store, key: str):
        self._store = store
        self._key = key

    def read(self) -> bytes | None:
        """What an attempt of this node last wrote, or None."""
        try:
            return self._store.get(self._key)
        except StoreObjectMissing:
            return None

    def write(self, data: bytes) -> None:
        """Keep `data` for the next attempt (replacing what was there)."""
        if not isinstance(data, (bytes, bytearray)):
            raise GraftError(f"checkpoint.write takes bytes, got {type(data).__name__}")
        self._store.put(self._key, bytes(data))

    def prev_exists(self) -> bool:
        return self._store.exists(self._key)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append({"at": record.created, "level": record.levelname,
                             "message": record.getMessage()})


@dataclass(frozen=True)
class ExecutionParameters:
    """The running attempt, as `current_context()` gives it."""

    execution_id: ExecutionId
    node_id: str
    attempt: int
    working_directory: str
    checkpoint: Checkpoint
    logging: logging.Logger

    @property
    def secrets(self) -> SecretsManager:
        """The secrets of the process the task runs in (`sdk.runtime.secrets`)."""
        return SecretsManager()


_TASKS = logging.getLogger("graft.task")
_current: contextvars.ContextVar[ExecutionParameters | None] = contextvars.ContextVar(
    "graft_context", default=None)


class _NoCheckpoint(Checkpoint):
    """The checkpoint of no task: every use says where checkpoints exist."""

    def __init__(self) -> None:
        pass

    def _refuse(self) -> Any:
        raise GraftError("current_context().checkpoint exists inside a running task only")

    def read(self) -> bytes | None:
        return self._refuse()

    def write(self, data: bytes) -> None:
        self._refuse()

    def prev_exists(self) -> bool:
        return bool(self._refuse())


def current_context() -> ExecutionParameters:
    """The attempt running now. Outside a task (at import time, say, as Flyte programs call it
    for `LaunchPlan.get_default_launch_plan`) it describes no attempt: execution "local", node
    "", attempt 0, and a checkpoint that refuses to be used."""
    ctx = _current.get()
    if ctx is None:
        return ExecutionParameters(ExecutionId("local"), "", 0, os.getcwd(), _NoCheckpoint(),
                                   _TASKS)
    return ctx


def log_key(execution_id: str, node_id: str, attempt: int) -> str:
    return f"logs/{execution_id}/{node_id}/{attempt}.json"


def output_key(execution_id: str, node_id: str, attempt: int, stream: str) -> str:
    """Where a worker keeps what an attempt wrote to `stream` ("stdout" or "stderr")."""
    return f"logs/{execution_id}/{node_id}/{attempt}.{stream}"


@contextmanager
def attempt_context(store: Store, execution_id: str, node_id: str, attempt: int, *,
                    local: bool = False) -> Iterator[ExecutionParameters]:
    """Make `current_context()` describe this attempt while it runs, and keep its log records
    in the store afterwards. `local`: the attempt runs in-process, not on a worker (secrets
    are then also found under their unprefixed names, as in flytekit)."""
    # Not from logging.getLogger: registering a logger per attempt clears every logger's
    # cache, a cost that grows with each attempt the process has run.
    logger = logging.Logger(f"graft.task.{node_id}", logging.DEBUG)
    logger.parent = _TASKS
    records = _Records()
    logger.addHandler(records)
    ctx = ExecutionParameters(ExecutionId(execution_id), node_id, attempt, os.getcwd(),
                              Checkpoint(store, f"checkpoints/{execution_id}/{node_id}/checkpoint"),
                              logger)
    token = _current.set(ctx)
    try:
        with task_running(local=local):
            yield ctx
    finally:
        _current.reset(token)
        logger.removeHandler(records)
        if records.records:
            try:
                store.put(log_key(execution_id, node_id, attempt),
                          json.dumps({"written_at": time.time(),
                                      "records": records.records}).encode())
            except StoreError as exc:
                logging.getLogger("graft").warning("log records of %s attempt %d not kept: %s",
                                                   node_id, attempt, exc)
