"""Dispatchers: how the scheduler hands a ready node to workers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Dispatch:
    """One node attempt to send: its queue, the name monitors show, and its arguments."""

    queue: str
    task_name: str
    execution_id: str
    node_id: str
    attempt: int
    payload: dict[str, Any]


class Dispatcher(Protocol):
    def send(self, batch: list[Dispatch]) -> None: ...


class CeleryDispatcher:
    """Sends each node as the Celery task `graft.run_node` to its tier's queue, with the
    user's task name as Celery `shadow` (what Flower and events show)."""

    def __init__(self) -> None:
        from worker.app import app

        self.app = app

    def send(self, batch: list[Dispatch]) -> None:
        if not batch:
            return
        with self.app.producer_or_acquire() as producer:
            for d in batch:
                self.app.send_task(
                    "graft.run_node", args=[d.execution_id, d.node_id, d.attempt, d.payload],
                    queue=d.queue, routing_key=d.queue, shadow=d.task_name, producer=producer,
                )


class RecordingDispatcher:
    """Keeps what it was asked to send: for tests of the scheduler's logic."""

    def __init__(self) -> None:
        self.sent: list[Dispatch] = []

    def send(self, batch: list[Dispatch]) -> None:
        self.sent.extend(batch)
