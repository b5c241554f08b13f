"""Every name graft gives a thing in Redis: keys, streams, channels and queues, built here and
nowhere else; with them the Celery task names its messages carry, and the key of an attempt.

Everything lives under `GRAFT_KEY_PREFIX` (default `graft`), so installations that share a
Redis keep apart, except the tier queues, which Celery names (`mem-<tier>`), and the keys
kombu's Redis transport keeps of its own (`unacked`, `unacked_index`), which the scheduler
reads to find attempts in flight.

| name | what |
| --- | --- |
| `<p>:control`, `<p>:control:<shard>` | the control streams (shard 0 keeps the pre-shard name) |
| `<p>:leases` | running attempts' leases (sorted set, scored by expiry) |
| `<p>:claim:<execution>:<attempt>:<node>` | who started an attempt, then `reported` |
| `<p>:superseded:<execution>:<attempt>:<node>` | an attempt given up: no copy may run |
| `<p>:given-up` | pub/sub: attempts given up, for the workers running them |
| `<p>:ex:<execution>`, `<p>:exs` | the status board: one hash an execution, and its index |
| `<p>:launchplans` | the launch plan board |
| `<p>:launchplans:refused` | activations the scheduler refused, by launch plan, and why |
| `<p>:notifiers` | how the scheduler can send notifications (SMTP, webhook) |
| `<p>:dead` | dead letters |
| `<p>:epoch` | changes when Redis lost what graft kept in it |
| `<p>:scheduler:lock` | the one scheduler of a `memory://` state |
| `<p>:cache-lock:<cache key>` | a serialized cache run (`cache_serialize=True`) |
| `<p>:gc:lock`, `<p>:gc:last` | the one gc running now, and when the last one ended |
| `mem-<tier>` | a memory tier's Celery queue |
"""

from __future__ import annotations

from dataclasses import dataclass

from sdk.model.resources import format_memory

# A node attempt: (execution id, node id, attempt number).
AttemptKey = tuple[str, str, int]

# The schedulers' consumer group on the control streams.
GROUP = "graft-schedulers"
# The Celery tasks of a node attempt, and of several items of one parent (sdk.wire.chunks).
TASK_NAME = "graft.run_node"
CHUNK_TASK_NAME = "graft.run_items"
TIER_QUEUE_PREFIX = "mem-"
# kombu's Redis transport: the hash of delivered, unacknowledged messages, and its index.
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"


def tier_queue(tier_bytes: int) -> str:
    """The Celery queue a memory tier consumes, e.g. `mem-1Gi`."""
    return f"{TIER_QUEUE_PREFIX}{format_memory(tier_bytes)}"


def queue_tier(queue: str) -> str:
    """The tier a tier queue serves, as written in its name (`mem-1Gi` -> `1Gi`); any other
    queue's name as it is."""
    return queue.removeprefix(TIER_QUEUE_PREFIX)


@dataclass(frozen=True)
class Keys:
    """The Redis names of one key prefix."""

    prefix: str

    def control(self, shard: int) -> str:
        """Shard `shard`'s control stream. Shard 0's keeps the name of graft's one stream
        before shards, so that messages older clients put there are read (and passed on)."""
        return f"{self.prefix}:control" if shard == 0 else f"{self.prefix}:control:{shard}"

    @property
    def leases(self) -> str:
        return f"{self.prefix}:leases"

    def attempt(self, kind: str, execution: str, node: str, attempt: int) -> str:
        """A mark of one attempt: `claim` (who started it, then `reported`) or `superseded`."""
        return f"{self.prefix}:{kind}:{execution}:{attempt}:{node}"

    @property
    def given_up(self) -> str:
        """The pub/sub channel that tells workers at once that attempts were given up."""
        return f"{self.prefix}:given-up"

    def execution(self, execution: str) -> str:
        """An execution's status board hash."""
        return f"{self.prefix}:ex:{execution}"

    def alive(self, role: str) -> str:
        """The heartbeats of one role (`sdk.wire.presence`): schedulers, a tier's workers."""
        return f"{self.prefix}:alive:{role}"

    def unknown(self, execution: str) -> str:
        """A short-lived mark: the scheduler was asked for this execution and has none."""
        return f"{self.prefix}:unknown:{execution}"

    def execution_nodes(self, execution: str) -> str:
        """An execution's node records on the status board (a hash by node id)."""
        return f"{self.prefix}:ex:{execution}:nodes"

    @property
    def executions(self) -> str:
        """The status board's index of executions (a sorted set by submission time)."""
        return f"{self.prefix}:exs"

    @property
    def launch_plans(self) -> str:
        return f"{self.prefix}:launchplans"

    @property
    def launch_plans_refused(self) -> str:
        return f"{self.prefix}:launchplans:refused"

    @property
    def notifiers(self) -> str:
        return f"{self.prefix}:notifiers"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    @property
    def scheduler_lock(self) -> str:
        return f"{self.prefix}:scheduler:lock"

    @property
    def gc_lock(self) -> str:
        """Held by the one `graft gc` (or scheduler's daily gc) running now."""
        return f"{self.prefix}:gc:lock"

    @property
    def gc_last(self) -> str:
        """When the last gc ended (unix seconds): the daily gc's clock, shared by the
        schedulers."""
        return f"{self.prefix}:gc:last"

    def cache_lock(self, cache_key: str) -> str:
        return f"{self.prefix}:cache-lock:{cache_key}"

    def legacy_cache_lock(self, cache_key: str) -> str:
        """Where graft before the wire's key module kept a cache lock (no `:` after the
        prefix). Held too, so that workers of that version wait for a run of this one."""
        return f"{self.prefix}cache-lock:{cache_key}"
