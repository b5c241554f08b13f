"""The Celery dispatcher: how the scheduler's messages reach the tier queues on Redis."""

from __future__ import annotations

from typing import Any

from kombu.exceptions import BatchPublishError
from kombu.utils.uuid import uuid

from scheduler.dispatch import Dispatch
from sdk.model.config import Settings
from sdk.model.errors import BrokerUnavailable
from sdk.wire.celery_app import make_app, tier_queues


class CeleryDispatcher:
    """Sends each node as the Celery task `graft.run_node` to its tier's queue, with the
    user's task name as Celery `shadow` (what Flower and events show), its arguments
    summarised in `argsrepr`, and the attempt in a message header (so the scheduler can find
    it in a queue after a restart). Before its first message it declares every tier's queue,
    so a tier no worker serves yet is known to the broker too.

    A batch is one Redis pipeline: each message is the one `app.send_task` would publish
    (Celery builds it, kombu wraps and pushes it), without `send_task`'s per-call routing,
    signals and result bookkeeping, which graft does not use. With task-sent events on
    (`GRAFT_TASK_SENT_EVENTS=1`) each node goes through `send_task`, which publishes them."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_app(settings)
        # kombu pipelines a batch only on a connection that never replays a command (redis-py
        # retries a timed-out pipeline whole). A failed send raises instead, and the outbox
        # sends the whole batch again: a copy is harmless, workers run an attempt only once.
        self.app.conf.broker_transport_options = {
            **self.app.conf.broker_transport_options, "retry_on_timeout": False}
        self.queues = tier_queues(settings)
        self._declared = False

    def send(self, batch: list[Dispatch]) -> None:
        if not batch:
            return
        with self.app.producer_or_acquire() as producer:
            if not self._declared:
                for queue in self.queues:
                    queue(producer.channel).declare()
                self._declared = True
            if self.app.conf.task_send_sent_event:
                for d in batch:
                    self._send_task(producer, d)
                return
            self._publish(producer, batch)

    def _send_task(self, producer: Any, d: Dispatch) -> None:
        name, value = d.header
        self.app.send_task(
            d.task, args=d.args, queue=d.queue, routing_key=d.queue,
            shadow=d.task_name, producer=producer, argsrepr=d.argsrepr,
            kwargsrepr="{}", headers={name: value},
        )

    def _publish(self, producer: Any, batch: list[Dispatch]) -> None:
        """What `send_task` (celery.app.base, celery.app.amqp's `send_task_message`) does for
        these arguments, in one pipeline: no routes are configured, the direct exchange of a
        named queue becomes the default exchange, and `ignore_result` stays unset so that the
        worker applies the app's `task_ignore_result`."""
        amqp, conf = self.app.amqp, self.app.conf
        delivery_mode = {}
        for name in {d.queue for d in batch}:
            queue = amqp.queues[name]
            producer.maybe_declare(queue)
            delivery_mode[name] = queue.exchange.delivery_mode or conf.task_default_delivery_mode
        reply_to = self.app.thread_oid
        try:
            with producer.batch():
                for d in batch:
                    headers, properties, body, _ = amqp.create_task_message(
                        uuid(), d.task, d.args, {}, reply_to=reply_to, shadow=d.task_name,
                        argsrepr=d.argsrepr, kwargsrepr="{}", ignore_result=None)
                    name, value = d.header
                    headers[name] = value
                    producer.publish(
                        body, exchange="", routing_key=d.queue,
                        serializer=conf.task_serializer, compression=conf.task_compression,
                        delivery_mode=delivery_mode[d.queue],
                        headers=headers, **properties, argsrepr=d.argsrepr, kwargsrepr="{}")
        except BatchPublishError as exc:  # its own text hides the cause
            raise BrokerUnavailable(
                f"Redis did not take a batch of {len(batch)} node messages (some may be "
                f"queued): {exc.__cause__ or exc}") from exc
