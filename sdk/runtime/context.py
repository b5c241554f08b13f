"""`current_context()`: what a running task knows about its attempt.

    ctx = current_context()
    ctx.execution_id.name, ctx.node_id, ctx.attempt
    ctx.working_directory                  # a new empty folder of this attempt's own
    state = ctx.checkpoint.read()          # bytes a previous attempt of this node wrote, or None
    ctx.checkpoint.write(b"...")           # kept in the store for the next attempt
    ctx.checkpoint.save(path)              # a file or folder; .restore() gives it back as a folder
    ctx.logging.info("step %d", i)         # records kept per attempt (Execution.log_records)
    ctx.secrets.get("group", "key")        # a secret, read where it runs (sdk.runtime.secrets)
    ctx.default_deck.append(html)          # a task's deck, with enable_deck=True (sdk.runtime.deck)

The checkpoint of a node lives in the store under `checkpoints/<execution>/<node>/`
(`sdk.runtime.checkpoint`: bytes, or a saved file or folder), so a retried attempt resumes
where the last one stopped, wherever it runs. `read()` also sees what this attempt wrote
(flytekit's does not).

As in flytekit, `working_directory` is a new temporary folder for each attempt, so attempts
running at once on one machine never write each other's files; it is removed when the attempt
ends (its outputs are in the store by then). It is made the first time it is asked for: most
tasks never ask, and making and removing a folder was most of a no-op attempt's time on a
worker (issue 26). The process's current directory is left alone.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sdk.model.errors import StoreError
from sdk.model.store import Store
from sdk.runtime.checkpoint import Checkpoint, NoCheckpoint
from sdk.runtime.secrets import SecretsManager, task_running


@dataclass(frozen=True)
class ExecutionId:
    """Which execution: `.name` is its id (project and domain are Flyte's, always "graft")."""

    name: str
    project: str = "graft"
    domain: str = "graft"

    def __str__(self) -> str:
        return self.name


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append({"at": record.created, "level": record.levelname,
                             "message": record.getMessage()})


class WorkingFolder:
    """An attempt's working folder, made on first use (`os.PathLike`, so it can stand for
    the folder's path without making it) and removed by `remove` if it was made."""

    def __init__(self, path: str | None = None) -> None:
        self._path = path
        self._made = False

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = tempfile.mkdtemp(prefix="graft-attempt-")
            self._made = True
        return self._path

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def remove(self) -> None:
        if self._made and self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)


@dataclass(frozen=True)
class ExecutionParameters:
    """The running attempt, as `current_context()` gives it."""

    execution_id: ExecutionId
    node_id: str
    attempt: int
    folder: WorkingFolder
    checkpoint: Checkpoint
    logging: logging.Logger
    decks: list[Any] = field(default_factory=list)  # the attempt's `Deck`s, in order
    enable_deck: bool = False  # whether its task has enable_deck=True

    @property
    def working_directory(self) -> str:
        """A new empty folder of this attempt's own (made now, if this is the first ask)."""
        return self.folder.path

    @property
    def secrets(self) -> SecretsManager:
        """The secrets of the process the task runs in (`sdk.runtime.secrets`)."""
        return SecretsManager()

    @property
    def default_deck(self) -> Any:
        """The attempt's deck named "default" (`sdk.runtime.deck`)."""
        from sdk.runtime.deck import default_deck

        return default_deck(self)

    @property
    def timeline_deck(self) -> Any:
        """The attempt's Timeline deck (`sdk.runtime.deck`)."""
        from sdk.runtime.deck import timeline_deck

        return timeline_deck(self)


_TASKS = logging.getLogger("graft.task")
_current: contextvars.ContextVar[ExecutionParameters | None] = contextvars.ContextVar(
    "graft_context", default=None)


def current_context() -> ExecutionParameters:
    """The attempt running now. Outside a task (at import time, say, as Flyte programs call it
    for `LaunchPlan.get_default_launch_plan`) it describes no attempt: execution "local", node
    "", attempt 0, and a checkpoint that refuses to be used."""
    ctx = _current.get()
    if ctx is None:
        return ExecutionParameters(ExecutionId("local"), "", 0, WorkingFolder(os.getcwd()),
                                   NoCheckpoint(),
                                   _TASKS)
    return ctx


def log_key(execution_id: str, node_id: str, attempt: int) -> str:
    return f"logs/{execution_id}/{node_id}/{attempt}.json"


def output_key(execution_id: str, node_id: str, attempt: int, stream: str) -> str:
    """Where a worker keeps what an attempt wrote to `stream` ("stdout" or "stderr")."""
    return f"logs/{execution_id}/{node_id}/{attempt}.{stream}"


@contextmanager
def attempt_context(store: Store, execution_id: str, node_id: str, attempt: int, *,
                    local: bool = False, enable_deck: bool = False
                    ) -> Iterator[ExecutionParameters]:
    """Make `current_context()` describe this attempt while it runs, and keep its log records
    in the store afterwards. `local`: the attempt runs in-process, not on a worker (secrets
    are then also found under their unprefixed names, as in flytekit). `enable_deck`: its
    task makes a deck."""
    # Not from logging.getLogger: registering a logger per attempt clears every logger's
    # cache, a cost that grows with each attempt the process has run.
    logger = logging.Logger(f"graft.task.{node_id}", logging.DEBUG)
    logger.parent = _TASKS
    records = _Records()
    logger.addHandler(records)
    folder = WorkingFolder()
    ctx = ExecutionParameters(ExecutionId(execution_id), node_id, attempt, folder,
                              Checkpoint(store, f"checkpoints/{execution_id}/{node_id}"),
                              logger, enable_deck=enable_deck)
    token = _current.set(ctx)
    try:
        with task_running(local=local):
            yield ctx
    finally:
        _current.reset(token)
        folder.remove()
        logger.removeHandler(records)
        if records.records:
            try:
                store.put(log_key(execution_id, node_id, attempt),
                          json.dumps({"written_at": time.time(),
                                      "records": records.records}).encode())
            except StoreError as exc:
                logging.getLogger("graft").warning("log records of %s attempt %d not kept: %s",
                                                   node_id, attempt, exc)
