"""Which Celery remote-control commands a graft worker obeys (`GRAFT_REMOTE_CONTROL`).

Celery broadcasts control commands to every worker through the broker, unauthenticated:
anyone who can write to Redis could stop every worker with `shutdown`. graft therefore obeys
only read-only commands by default, which is what Flower needs to show workers, queues and
tasks:

    inspect  (default) inspect commands (ping, stats, active, registered, ...) and turning
             task events on or off; no shutdown, pool restart, revoke, rate or time limits
    full     every Celery command, for Flower's controls (terminate, shutdown, pool sizing);
             then whoever can reach the broker controls the workers
    off      no remote control at all (Flower then shows tasks from events only)
"""

from __future__ import annotations

import os

from celery import Celery
from celery.worker import control

from sdk.model.errors import ConfigError

MODES = ("inspect", "full", "off")
ALSO_ALLOWED = {"enable_events", "disable_events", "heartbeat"}


def mode() -> str:
    value = (os.environ.get("GRAFT_REMOTE_CONTROL") or "inspect").lower()
    if value not in MODES:
        raise ConfigError(f"GRAFT_REMOTE_CONTROL={value!r}: expected one of {', '.join(MODES)}")
    return value


def apply(app: Celery) -> str:
    """Restrict this process's remote-control commands per `GRAFT_REMOTE_CONTROL`."""
    chosen = mode()
    if chosen == "off":
        app.conf.worker_enable_remote_control = False
    elif chosen == "inspect":
        for name, meta in list(control.Panel.meta.items()):
            if meta.type != "inspect" and name not in ALSO_ALLOWED:
                control.Panel.data.pop(name, None)
    return chosen
