"""The launch plan board: the scheduler's list of registered launch plans, in Redis.

The scheduler writes every registered plan to one Redis hash (one JSON record per plan:
schedule, active, next run, last tick and its execution), and `graft launchplan ls` reads it:
clients never read the scheduler's database. Activations the scheduler refused (it cannot
send the plan's notifications) are kept beside it, by plan, with the id of the request and
why (`<prefix>:launchplans:refused`), so that the client that asked learns why.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from sdk.wire.keys import Keys


class LaunchPlanBoard:
    """The registered launch plans as the scheduler last wrote them."""

    def __init__(self, client: redis.Redis, key_prefix: str):
        self.redis = client
        self.key = Keys(key_prefix).launch_plans
        self.refused_key = Keys(key_prefix).launch_plans_refused

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

    def refuse(self, refused: dict[str, dict[str, Any]]) -> None:
        """Record refused activations: {name: {"request", "spec", "reason", "at"}}."""
        self.redis.hset(self.refused_key, mapping={
            name: json.dumps(r, separators=(",", ":")) for name, r in refused.items()})

    def refusal(self, name: str, request: str) -> str | None:
        """Why the activation `request` of plan `name` was refused, or None."""
        raw = self.redis.hget(self.refused_key, name)
        try:
            record = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        if isinstance(record, dict) and record.get("request") == request:
            return str(record.get("reason"))
        return None
