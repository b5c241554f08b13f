"""A worker's broker outages, told in one line when lost and one when back.

Celery's consumer logs a line for every reconnection attempt (and a multi-line deprecation
warning on each loss, and at times a traceback of a step it restarts); graft's own lease and
report loops notice the same outage. All of them report to one `Outage` per process, which
logs the loss once and the recovery once. Only an answer from Redis says it is back: a
command that succeeded, or Celery's "Connected to" (its connection answered a PING).
"""

from __future__ import annotations

import logging
import warnings

from celery.exceptions import CPendingDeprecationWarning

from sdk.wire.connections import Outage, explain

log = logging.getLogger("graft.worker")

OUTAGE = Outage(log)

LOSS_WARNING = "on connection loss cancels all currently executed"


class CeleryBrokerLines(logging.Filter):
    """Turns Celery's per-retry broker lines into the process's one lost/back pair.

    Celery puts the words in the arguments of some of these records (`'%s (%r)'`), so the
    formatted message is read. "Connected to" follows a connection whose PING was answered
    (kombu's Redis channel sends one when it opens): Redis works again."""

    def __init__(self, broker_url: str):
        super().__init__()
        self.broker_url = broker_url

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Connection to broker lost" in message or "Cannot connect to" in message:
            # Both carry the exception as their second argument.
            args = record.args if isinstance(record.args, tuple) else ()
            cause = args[1] if len(args) > 1 else None
            OUTAGE.lost(explain(cause, self.broker_url) if isinstance(cause, BaseException)
                        else message.splitlines()[0])
            return False
        if message.startswith("Connected to") and OUTAGE.down:
            OUTAGE.back()
            return False
        return True


class LossWarning(logging.Filter):
    """Drops Celery's multi-line deprecation warning about tasks on connection loss, which it
    emits on every loss. Celery's log setup re-enables its warnings ("always") after graft's
    `warnings` filter was installed, and routes them to the `py.warnings` logger: they are
    dropped there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return LOSS_WARNING not in record.getMessage()


class ClosedStepChannels(logging.Filter):
    """Drops Celery's "Error on restarting Gossip" traceback after a connection loss. Celery
    5.7 sets the consumer's connection to None before it restarts the consumer's steps, and
    a step closing its channel then passes that None to `kombu.common.ignore_errors`, which
    fails with an AttributeError when the close meets the dead broker. The channel belonged
    to the lost connection, and the step opens a new one when Celery reconnects."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (str(record.msg).startswith("Error on") and isinstance(exc, AttributeError)
                    and "'NoneType' object has no attribute 'connection_errors'" in str(exc))


def install(broker_url: str) -> None:
    """Quiet Celery's reconnection lines and its per-loss deprecation warning (graft acks
    running tasks itself after a reconnect; see worker.transport)."""
    line_filter = CeleryBrokerLines(broker_url)
    for name in ("celery.worker.consumer.consumer", "celery.worker.consumer.connection"):
        logging.getLogger(name).addFilter(line_filter)
    logging.getLogger("py.warnings").addFilter(LossWarning())
    logging.getLogger("celery.bootsteps").addFilter(ClosedStepChannels())
    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning,
                            message=f"(?s).*{LOSS_WARNING}")
