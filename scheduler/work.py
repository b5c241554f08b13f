"""The unit of work: one transaction a batch, fenced, and what follows once it committed.

Everything the scheduler changes goes through `UnitOfWork.run(batch, work)`: `work(tx)`
records in one transaction of the state what some messages did, collecting on `batch` what
is to happen outside the state; only once the transaction committed does that happen, each
unit its part (`committed`): the attempts it made ready are held and sent, cache entries
saved, the status board written, engines that ended dropped, replaced engine snapshots
deleted, notifications handed to the notifier. Before it commits, the engines of large
executions are snapshotted in the same transaction (`Executions.snapshot`). A transaction
that fails changes nothing outside the state either: the engines of its executions are
dropped (rebuilt from the state when next needed) and the attempts it took to send are held
again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scheduler.batch import Batch
from scheduler.boards import BoardWriter
from scheduler.executions import Executions
from scheduler.notices import Notices
from scheduler.observer import Observer
from scheduler.recorder import Recorder
from scheduler.sending import Sender
from scheduler.state import StateTx
from scheduler.transactions import Transactions


class UnitOfWork:
    """Runs work in one transaction and has every unit act on it once it committed."""

    def __init__(self, transactions: Transactions, executions: Executions, sender: Sender,
                 recorder: Recorder, boards: BoardWriter, metrics: Observer,
                 notices: Notices | None = None):
        self.transactions = transactions
        self.executions = executions
        self.sender = sender
        self.recorder = recorder
        self.boards = boards
        self.metrics = metrics
        self.notices = notices or Notices()

    def run(self, batch: Batch, work: Callable[[StateTx], Any]) -> None:
        """`work` in one transaction, then its effects; re-raises what failed, after undoing
        in memory what the batch did there. Attempts it made ready outside a selection (a
        launch plan's first nodes, retries of lost attempts, a rebuild's) are sent after."""
        try:
            with self.transactions.open() as tx:
                work(tx)
                self.executions.snapshot(tx, batch)
        except Exception:
            self.executions.forget(batch.seen)
            self.sender.give_back(batch)
            raise
        self.metrics.committed(batch.observed)
        self.sender.committed(batch)
        self.recorder.save_cached(batch.cached)
        self.boards.committed(batch, self.executions.get)
        self.executions.committed(batch)
        self.executions.drop_replaced(batch)
        self.notices.committed(batch)
        if batch.ready:
            self.send_ready()

    def send_ready(self) -> int:
        """Send the held ready attempts each tier queue has room for, in a transaction of
        their own (it writes the rows of those sent for the first time). Returns how many
        messages were sent."""
        if not self.sender.holding:
            return 0
        batch = Batch()
        self.run(batch, lambda tx: self.sender.select(tx, batch))
        return len(batch.outbox)
