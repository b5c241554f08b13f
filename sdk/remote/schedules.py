"""Activating and deactivating scheduled launch plans, and the board that lists them.

The client compiles a launch plan and uploads its code as `Client.submit` does, then sends an
`activate` message on the control stream (signed with GRAFT_SECRET like every message); the
scheduler records it in its database and fires its ticks (`scheduler/cron.py`). The
scheduler writes every registered plan to the Redis hash `<prefix>:launchplans` (one JSON
record per plan: schedule, active, next run, last tick and its execution), which
`graft launchplan ls` reads: clients never read the scheduler's database.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis

from sdk.model.config import Settings
from sdk.model.errors import ConfigError, GraftError
from sdk.model.store import Store
from sdk.remote.references import resolve_references
from sdk.remote.specs import upload_spec
from sdk.values.shapes import encode_inputs
from sdk.wire.connections import check_redis
from sdk.wire.control import ControlChannel
from sdk.wire.launch_plans import LaunchPlanBoard
from sdk.wire.messages import inputs_digest
from sdk.wire.notifiers import NotifierBoard, check_deliverable
from sdk.wire.tiers import check_tiers


class Schedules:
    """A client's view of scheduled launch plans: activate, deactivate, list."""

    def __init__(self, settings: Settings, store: Store, control: ControlChannel,
                 client: redis.Redis):
        self.settings, self.store, self.control = settings, store, control
        self.board = LaunchPlanBoard(client, settings.key_prefix)
        self.notifiers = NotifierBoard(client, settings.key_prefix)

    def activate(self, plan: Any, wait_s: float = 15.0) -> dict[str, Any] | None:
        """Register `plan` (a scheduled LaunchPlan) with the scheduler and activate it.
        Returns its board record once the scheduler confirmed it, or None when no scheduler
        did within `wait_s` (the message stays on the stream: it applies when a scheduler
        runs).

        Raises ConfigError when the plan has no schedule, or has notifications the scheduler
        cannot send (no SMTP server: said at once when the scheduler published what it can
        send, or once it refused the activation), TierError when a node needs more memory
        than the largest tier, BrokerUnavailable without Redis."""
        if getattr(plan, "schedule", None) is None:
            raise ConfigError(f"{plan!r} has no schedule: give LaunchPlan.get_or_create a "
                              f"schedule=CronSchedule(...) or FixedRate(...) to activate it")
        spec = resolve_references(plan.graph(), self.settings, self.store)
        check_tiers(spec, self.settings)
        check_redis(self.settings.broker_url)
        notify = plan.notify_json()
        check_deliverable(notify, self.notifiers)
        spec_key = upload_spec(spec, self.store)
        inputs = encode_inputs(plan, plan.scheduled_inputs(), self.store)
        schedule = plan.schedule.to_json()
        notifications = notify["notifications"] if notify else []
        request = uuid.uuid4().hex
        body = {"type": "activate", "launch_plan": plan.name, "workflow": plan.workflow.name,
                "spec": spec_key, "inputs": inputs, "schedule": schedule, "request": request}
        if notifications:
            body["notifications"] = notifications
        self.control.publish(body)
        digest = inputs_digest(inputs)
        return self._confirmed(plan.name, wait_s, lambda r: (
            r.get("active") is True and r.get("spec") == spec_key
            and r.get("schedule") == schedule and r.get("inputs_digest") == digest
            and (r.get("notifications") or []) == notifications), request)

    def deactivate(self, name: str, wait_s: float = 15.0) -> dict[str, Any] | None:
        """Stop launch plan `name`'s schedule; its record once the scheduler confirmed, or
        None. GraftError when the board knows no such plan."""
        check_redis(self.settings.broker_url)
        if self.board.get(name) is None:
            known = [r["name"] for r in self.board.read()]
            raise GraftError(f"no launch plan {name!r} is registered (registered: "
                             f"{', '.join(known) or 'none'})")
        self.control.publish({"type": "deactivate", "launch_plan": name})
        return self._confirmed(name, wait_s, lambda r: r.get("active") is False)

    def launch_plans(self) -> list[dict[str, Any]]:
        """The registered launch plans, by name, as the scheduler last wrote them."""
        check_redis(self.settings.broker_url)
        return self.board.read()

    def _confirmed(self, name: str, wait_s: float, done: Any, request: str | None = None
                   ) -> dict[str, Any] | None:
        deadline = time.monotonic() + wait_s
        while True:
            record = self.board.get(name)
            if record is not None and done(record):
                return record
            refused = self.board.refusal(name, request) if request else None
            if refused:
                raise ConfigError(f"the scheduler refused to activate launch plan {name!r}: "
                                  f"{refused}")
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)
