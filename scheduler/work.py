"""The unit of work: one transaction a batch, fenced, and what follows once it committed.

Everything the scheduler changes goes through `UnitOfWork.run(batch, work)`: `work(tx)`
records in one transaction of the state what some messages did, collecting on `batch` what
is to happen outside the state; only once the transaction committed does that happen, each
unit its part (`committed`): the attempts it made ready are held and sent, cache entries
saved, the status board written, engines that ended dropped, notifications handed to the
notifier; then the engines of large executions that moved far enough are snapshotted and
named in their rows in a transaction of their own (`Executions.snapshot`). A transaction
that fails changes nothing outside the state either: the engines of its executions are
dropped (rebuilt from the state when next needed) and the attempts it took to send are held
again.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("graft.scheduler")


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
        except Exception:
            self.executions.forget(batch.seen)
            self.sender.give_back(batch)
            raise
        self.metrics.committed(batch.observed)
        self.sender.committed(batch)
        self.recorder.save_cached(batch.cached)
        self.boards.committed(batch, self.executions.get)
        self.executions.committed(batch)
        self.executions.drop_snapshots(batch.replaced)
        self.notices.committed(batch)
        self._snapshot(batch)
        if batch.ready:
            self.send_ready()

    def _snapshot(self, batch: Batch) -> None:
        """Snapshot the large engines `batch` moved far enough (`Executions.snapshot`), and
        name them in their rows in a transaction of its own; a snapshot is never needed, so
        one that fails to be named is deleted and the scheduler goes on."""
        stored = self.executions.snapshot(batch)
        if not stored:
            return
        try:
            with self.transactions.open() as tx:
                self.executions.name_snapshots(tx, stored)
        except Exception as exc:
            log.warning("%d engine snapshots were not named in their executions' rows (%s: "
                        "%s)", len(stored), type(exc).__name__, exc)
            self.executions.named(stored, committed=False)
            return
        self.executions.named(stored, committed=True)

    def send_ready(self) -> int:
        """Send the held ready attempts each tier queue has room for, in a transaction of
        their own (it writes the rows of those sent for the first time). Returns how many
        messages were sent."""
        if not self.sender.holding:
            return 0
        batch = Batch()
        self.run(batch, lambda tx: self.sender.select(tx, batch))
        return len(batch.outbox)
