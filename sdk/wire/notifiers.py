"""How the scheduler can send notifications, published for clients.

The scheduler writes what its notifiers are (`<prefix>:notifiers`: the channels it has,
"smtp" and "webhook", and when it wrote them) when it starts serving and after Redis lost
its keys. A client activating or submitting a launch plan with notifications reads it and
refuses at once, with the setting to give, when the scheduler has no SMTP server; with no
record (no scheduler has written one since Redis was emptied) the client sends, and the
scheduler refuses what it cannot deliver itself (docs/notifications.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import redis

from sdk.authoring.notification import undeliverable
from sdk.model.errors import ConfigError
from sdk.wire.keys import Keys


class NotifierBoard:
    """The scheduler's notifiers as it last published them."""

    def __init__(self, client: redis.Redis, key_prefix: str):
        self.redis = client
        self.key = Keys(key_prefix).notifiers

    def write(self, channels: Iterable[str]) -> None:
        self.redis.set(self.key, json.dumps({"channels": sorted(channels), "at": time.time()}))

    def channels(self) -> set[str] | None:
        """The channels the scheduler said it has; None when no scheduler said (or what it
        wrote is unreadable)."""
        raw = self.redis.get(self.key)
        try:
            record: Any = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        if not isinstance(record, dict) or not isinstance(record.get("channels"), list):
            return None
        return {str(c) for c in record["channels"]}


def check_deliverable(notify: dict[str, Any] | None, board: NotifierBoard) -> None:
    """ConfigError when the scheduler said it cannot send these notifications (a launch
    plan's `notify_json()`); nothing when there are none, or no scheduler said."""
    if not notify:
        return
    channels = board.channels()
    if channels is None:
        return
    reason = undeliverable(notify["notifications"], channels,
                           f"launch plan {notify['launch_plan']!r}")
    if reason:
        raise ConfigError(reason)
