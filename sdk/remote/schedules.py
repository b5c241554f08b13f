"""Activating and deactivating scheduled launch plans, and the board that lists them.

The client compiles a launch plan and uploads its code as `Client.submit` does, then sends an
`activate` message on the control stream (signed with GRAFT_SECRET like every message); the
scheduler records it in its database and fires its ticks (`scheduler/cron.py`). The
scheduler writes every registered plan to the Redis hash `<prefix>:launchplans` (one JSON
record per plan: schedule, active, next run, last tick and its execution), which
`graft launchplan ls` reads: clients never read the scheduler's database.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import redis

from sdk.model.errors import ConfigError, GraftError
from sdk.remote.connections import check_redis

if TYPE_CHECKING:
    from sdk.remote.client import Client


class LaunchPlanBoard:
    """The registered launch plans as the scheduler last wrote them."""

    def __init__(self, client: redis.Redis, key_prefix: str):
        self.redis = client
        self.key = f"{key_prefix}:launchplans"

    def write(self, records: list[dict[str, Any]]) -> None:
        """Replace the board with `records` (each has a `name`)."""
        fields = {r["name"]: json.dumps(r, separators=(",", ":")) for r in records}
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.key)
        if fields:
            pipe.hset(self.key, mapping=fields)
        pipe.execute()

    def read(self) -> list[dict[str, Any]]:
        """Every plan on the board, by name."""
        raw = self.redis.hgetall(self.key)
        records = []
        for value in raw.values():
            try:
                records.append(json.loads(value))
            except ValueError:
                continue
        return sorted(records, key=lambda r: str(r.get("name")))

    def get(self, name: str) -> dict[str, Any] | None:
        raw = self.redis.hget(self.key, name)
        return json.loads(raw) if raw is not None else None


def board(client: Client) -> LaunchPlanBoard:
    return LaunchPlanBoard(client.board.redis, client.settings.key_prefix)


def activate(client: Client, plan: Any, wait_s: float = 15.0) -> dict[str, Any] | None:
    """Register `plan` (a scheduled LaunchPlan) with the scheduler and activate it. Returns
    its board record once the scheduler confirmed it, or None when no scheduler did within
    `wait_s` (the message stays on the stream: it applies when a scheduler runs).

    Raises ConfigError when the plan has no schedule, TierError when a node needs more
    memory than the largest tier, BrokerUnavailable without Redis."""
    from sdk.remote.client import _main_module_name, _renamed_refs, _with_bundles
    from sdk.values.shapes import encode_inputs
    from sdk.values.store import put_blob

    if getattr(plan, "schedule", None) is None:
        raise ConfigError(f"{plan!r} has no schedule: give LaunchPlan.get_or_create a "
                          f"schedule=CronSchedule(...) or FixedRate(...) to activate it")
    spec = plan.graph()
    for node_id, node in spec.walk():
        if node.kind != "workflow":
            client.settings.queue_for(node.memory_bytes,
                                      f"node {node_id!r} (task {node.task.name})")
    check_redis(client.settings.broker_url)
    spec = _with_bundles(spec, client.store, {})
    main = _main_module_name()
    if main:
        spec = _renamed_refs(spec, "__main__", main)
    spec_key = put_blob(client.store, spec.dumps().encode(), prefix="specs")
    inputs = encode_inputs(plan, plan.scheduled_inputs(), client.store)
    client.control.publish({"type": "activate", "launch_plan": plan.name,
                            "workflow": plan.workflow.name, "spec": spec_key, "inputs": inputs,
                            "schedule": plan.schedule.to_json()})
    return _confirmed(client, plan.name, wait_s,
                      lambda r: r.get("active") is True and r.get("spec") == spec_key)


def deactivate(client: Client, name: str, wait_s: float = 15.0) -> dict[str, Any] | None:
    """Stop launch plan `name`'s schedule; its record once the scheduler confirmed, or None.
    GraftError when the board knows no such plan."""
    check_redis(client.settings.broker_url)
    if board(client).get(name) is None:
        known = [r["name"] for r in board(client).read()]
        raise GraftError(f"no launch plan {name!r} is registered (registered: "
                         f"{', '.join(known) or 'none'})")
    client.control.publish({"type": "deactivate", "launch_plan": name})
    return _confirmed(client, name, wait_s, lambda r: r.get("active") is False)


def launch_plans(client: Client) -> list[dict[str, Any]]:
    """The registered launch plans, by name, as the scheduler last wrote them."""
    check_redis(client.settings.broker_url)
    return board(client).read()


def _confirmed(client: Client, name: str, wait_s: float, done: Any) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait_s
    while True:
        record = board(client).get(name)
        if record is not None and done(record):
            return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)
