"""The state's transactions as the scheduler opens them: one at a time, each first passing the
scheduler's `Tenure`, with several schedulers on one database the check that this one still
holds the shards it writes (scheduler/shards.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from scheduler.state import StateStore, StateTx
from sdk.model.failures import is_transient


class Tenure(Protocol):
    """Which executions this scheduler serves, and the check, first in every transaction,
    that it still may write them (raising `scheduler.state.Fenced` when another scheduler took
    them over)."""

    def owns(self, execution_id: str) -> bool: ...

    def fence(self, tx: StateTx) -> None: ...


class Sole:
    """The tenure of a scheduler serving alone: every execution, with nothing to check."""

    def owns(self, execution_id: str) -> bool:
        return True

    def fence(self, tx: StateTx) -> None:
        return None


class Transactions:
    """The state's transactions, opened one at a time and fenced. `current` is the one open
    now: where an engine reads back the outputs of nodes it dropped from memory."""

    def __init__(self, state: StateStore, tenure: Tenure):
        self.state = state
        self.tenure = tenure
        self.current: StateTx | None = None

    @contextmanager
    def open(self) -> Iterator[StateTx]:
        """One transaction, committed when the block ends, rolled back when it raises."""
        with self.state.transaction() as tx:
            self.tenure.fence(tx)
            self.current = tx
            try:
                yield tx
            finally:
                self.current = None

    def is_transient(self, exc: BaseException) -> bool:
        """Errors of the infrastructure, not of the message, that another try may not meet:
        the state store unreachable or locked, the value store failing. Data the database
        refuses, a store object gone or altered, and malformed messages are final."""
        return is_transient(exc) or self.state.is_transient(exc)
