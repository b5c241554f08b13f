"""Refusing a message in a worker: one log line naming the queue and the reason, and the
message kept in the dead-letter list (never raised: a refusal must not stop the worker)."""

from __future__ import annotations

import logging
from typing import Any

from sdk.model.config import Settings
from sdk.wire.connections import redis_client
from sdk.wire.dead import DeadLetters

log = logging.getLogger("graft.worker")

_DEAD: list[DeadLetters] = []


def dead_letters() -> DeadLetters:
    if not _DEAD:
        settings = Settings.from_env()
        _DEAD.append(DeadLetters(redis_client(settings.broker_url), settings.key_prefix))
    return _DEAD[0]


def refuse(queue: str, reason: str, raw: Any) -> None:
    try:
        dead_letters().add(queue, reason, raw)
    except Exception as exc:  # never let a refusal stop the worker
        log.warning("refused a message on %s: %s (not kept: %s)", queue, reason, exc)
