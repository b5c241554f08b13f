"""A worker's broker outages, told in one line when lost and one when back.

Celery's consumer logs a line for every reconnection attempt (and a multi-line deprecation
warning on each loss); graft's own lease and report loops notice the same outage. All of them
report to one `Outage` per process, which logs the loss once and the recovery once.
"""

from __future__ import annotations

import logging
import warnings

from celery.exceptions import CPendingDeprecationWarning

from sdk.wire.connections import Outage

log = logging.getLogger("graft.worker")

OUTAGE = Outage(log)


class CeleryBrokerLines(logging.Filter):
    """Turns Celery's per-retry broker lines into the process's one lost/back pair."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "Connection to broker lost" in message or "Cannot connect to" in message:
            reason = record.args[1] if "Cannot connect" in message and record.args else \
                record.getMessage().rpartition("(")[2].rstrip(")")
            OUTAGE.lost(f"{reason}")
            return False
        if message.startswith("Connected to") and OUTAGE.down:
            OUTAGE.back()
            return False
        return True


def install() -> None:
    """Quiet Celery's reconnection lines and its per-loss deprecation warning (graft acks
    running tasks itself after a reconnect; see worker.transport)."""
    line_filter = CeleryBrokerLines()
    for name in ("celery.worker.consumer.consumer", "celery.worker.consumer.connection"):
        logging.getLogger(name).addFilter(line_filter)
    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning,
                            message=".*on connection loss cancels all currently executed")
