"""Redis commands a benchmark run costs: `INFO commandstats` read before and after each run.

The counts are the server's, so they hold every client of that Redis during the run: the
system being timed, the bench's own polling of the status board (graft) or of the result
backend (Celery), and an idle stack's background reads (a Celery worker's `BRPOP` ends every
second, a graft scheduler's blocking read every two); the systems take turns, so no other one
is busy meanwhile. A script counts once as `evalsha`, and again for each command it runs
(Redis reports those under their own names too).
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def command_calls(client: Any) -> Counter[str]:
    """How many times the server ran each command since its start (or its last
    `CONFIG RESETSTAT`)."""
    stats = client.info("commandstats")
    calls: Counter[str] = Counter()
    for name, values in stats.items():
        if isinstance(values, dict) and "calls" in values:
            calls[name.removeprefix("cmdstat_").lower()] = int(values["calls"])
    return calls


class RedisCalls:
    """Commands counted over the runs of each system (`around` one run at a time)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: dict[str, Counter[str]] = {}
        self.nodes: Counter[str] = Counter()

    def around(self, system: str, nodes: int, run: Any) -> Any:
        """`run()`, its commands counted for `system`, which ran `nodes` nodes in it."""
        before = command_calls(self.client)
        result = run()
        after = command_calls(self.client)
        total = self.calls.setdefault(system, Counter())
        total.update({name: after[name] - before.get(name, 0) for name in after})
        self.nodes[system] += nodes
        return result

    def report(self, top: int = 12) -> None:
        """Print, per system, the commands per node, most frequent first."""
        for system, calls in self.calls.items():
            nodes = max(1, self.nodes[system])
            # INFO itself runs once per count: the one of the `after` read is in the delta.
            calls = Counter({k: v for k, v in calls.items() if k != "info" and v > 0})
            total = sum(calls.values())
            print(f"\nRedis commands per node, {system} ({nodes} nodes): "
                  f"{total / nodes:.1f} in all")
            for name, count in calls.most_common(top):
                print(f"  {count / nodes:8.2f}  {name}")
