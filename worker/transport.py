"""kombu's Redis transport, hardened so that nothing on a queue or a Redis outage can stop a
graft worker or run a task twice at once.

Stock kombu 5.7 (with Celery 5.7) fails a graft worker in these ways, each reproduced on a
private redis-server:

- bytes that are not JSON, a JSON list or a body that is not base64, pushed onto a tier
  queue: parsed in the event loop without a guard, the worker exits ("Unrecoverable error");
- an envelope whose task body is not `[args, kwargs, embed]`, or whose `timelimit` header is
  not `[hard, soft]`: the worker exits and puts the message back at the head of its queue at
  shutdown, so every restart crashes again;
- an object without `properties`: kombu counts the KeyError as a connection error, reconnects
  and requeues every running task, which then runs twice concurrently;
- a JSON list published on the remote-control channel: every worker exits;
- Redis lost while a task runs: closing the channel restores the running task's message
  through a connection that is gone (`AttributeError: 'NoneType' object has no attribute
  'hostname'`) and the worker dies; and once that is avoided, the task's late ack through its
  old channel fails the same way.

Here a message kombu or Celery would choke on goes to graft's dead-letter list with its queue
and the reason; a running task's message is never requeued by a reconnect (its lease keeps
it, and the scheduler re-runs it if the worker really is gone); and a closed channel keeps the
connection parameters it needs for late acks. `_brpop_read` is kombu 5.7's with only the
decode-and-deliver step changed: compare it with kombu's when upgrading.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

from worker.refuse import refuse

log = logging.getLogger("graft.worker")

# kombu counts KeyError among Redis connection errors; only real network errors may end a
# delivery and make the consumer reconnect.
NETWORK_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def envelope_problem(message: Any, decode_body: Any = None) -> str | None:
    """Why kombu or Celery would fail on this envelope, or None when it is a good one."""
    if not isinstance(message, dict):
        return f"a queued message is a JSON object (kombu envelope), not a {type(message).__name__}"
    props = message.get("properties")
    if not isinstance(props, dict):
        return "not a kombu envelope: no 'properties' object"
    if "delivery_tag" not in props:
        return "not a kombu envelope: no properties.delivery_tag"
    if not isinstance(props.get("delivery_info") or {}, dict):
        return "a kombu envelope whose properties.delivery_info is not an object"
    headers = message.get("headers") or {}
    if not isinstance(headers, dict):
        return "a kombu envelope whose headers are not an object"
    body = message.get("body")
    if body and decode_body is not None:
        try:
            body = decode_body(body, props.get("body_encoding"))
        except Exception as exc:
            return f"body cannot be decoded ({props.get('body_encoding')}): {exc!r}"
    limits = headers.get("timelimit")
    if limits is not None and not (isinstance(limits, (list, tuple)) and len(limits) == 2
                                   and all(v is None or isinstance(v, (int, float))
                                           for v in limits)):
        return f"headers.timelimit is not [hard, soft]: {str(limits)[:80]}"
    if "task" in headers and message.get("content-type") == "application/json":
        try:
            decoded = json.loads(body)
        except (ValueError, TypeError) as exc:
            return f"task body is not JSON: {exc!r}"
        if not (isinstance(decoded, list) and len(decoded) == 3
                and isinstance(decoded[0], list) and isinstance(decoded[1], dict)
                and isinstance(decoded[2], (dict, type(None)))):
            return "task body is not [args, kwargs, embed]"
    return None


# The unacknowledged-message record kombu keeps for each message a worker holds (a sorted set
# of delivery tags by time, and a hash of the messages), written and removed as kombu does, in
# one script each instead of a MULTI/EXEC transaction of two commands: one reply for redis-py
# to read where there were four, as atomic.
# KEYS[1] = the index, KEYS[2] = the hash; ARGV[1] = time, ARGV[2] = tag, ARGV[3] = message.
_APPEND = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
"""
# KEYS as above; ARGV[1] = tag.
_REMOVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
"""


class QoS(kombu_redis.QoS):
    _scripts: dict[str, Any] | None = None

    def _script(self, client: Any, text: str) -> Any:
        if self._scripts is None:
            self._scripts = {}
        if text not in self._scripts:
            self._scripts[text] = client.register_script(text)
        return self._scripts[text]

    def append(self, message: Any, delivery_tag: Any) -> None:
        """kombu's `append` (record the message as unacknowledged), in one script."""
        delivery = message.delivery_info
        body = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
        with self.channel.conn_or_acquire() as client:
            self._script(client, _APPEND)(keys=[self.unacked_index_key, self.unacked_key],
                                          args=[time.time(), delivery_tag, body],
                                          client=client)
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: Any) -> None:
        """kombu's `ack` (drop the unacknowledged record), in one script."""
        with self.channel.conn_or_acquire() as client:
            self._script(client, _REMOVE)(keys=[self.unacked_index_key, self.unacked_key],
                                          args=[delivery_tag], client=client)
        virtual.QoS.ack(self, delivery_tag)

    def restore_unacked(self, client: Any = None) -> None:
        """On a reconnect, requeue only the messages of tasks that are not running: a running
        task's message stays unacknowledged (its lease keeps it), so it never runs twice at
        once. A failure to requeue (the connection is gone) is logged, never raised."""
        try:
            from celery.worker.state import active_requests

            running = {r.message.delivery_tag for r in list(active_requests)
                       if getattr(r, "message", None) is not None}
        except Exception:  # not inside a Celery worker
            running = set()
        for tag in [t for t in self._delivered if t in running]:
            self._delivered.pop(tag, None)
        count = len(self._delivered)
        try:
            super().restore_unacked(client)
        except Exception as exc:
            log.warning("could not requeue %d unacknowledged message(s) on reconnect (%r); "
                        "their attempts are re-run by the scheduler if no worker holds them",
                        count, exc)
            self._delivered.clear()


class Channel(kombu_redis.Channel):
    QoS = QoS
    _sync_params: dict[str, Any] | None = None
    _sync_client: Any = None

    @contextlib.contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """kombu builds a new client for every call without one (each acknowledgement, each
        unacknowledged-message record, each event publish: about 115 µs apiece, mostly its
        response-callback table). One client per pool serves them all: a client takes a
        connection from its pool for each command, and the pool is made anew (so is this
        client) when kombu drops it on a reconnect."""
        if client:
            yield client
            return
        pool = self.pool
        if self._sync_client is None or self._sync_client.connection_pool is not pool:
            self._sync_client = self._create_client()
        yield self._sync_client

    def _connparams(self, asynchronous: bool = False) -> Any:
        # A task received before a reconnect is acknowledged through its old channel, whose
        # connection kombu has dropped: keep the parameters that channel needs.
        conn = self.connection
        if not asynchronous and self._sync_params is not None and (
                conn is None or conn.client is None):
            return dict(self._sync_params)
        params = super()._connparams(asynchronous=asynchronous)
        if not asynchronous:
            self._sync_params = dict(params)
        return params

    def _brpop_read(self, **options: Any) -> bool:
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP",
                                                        **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            self._guarded_deliver(item, dest)
            return True
        finally:
            self._in_poll = None
            flush = getattr(self, "_flush_brpop_reauth", None)
            if flush is not None:
                flush()

    def _guarded_deliver(self, item: bytes, dest: str) -> None:
        try:
            message = loads(bytes_to_str(item))
        except (ValueError, TypeError) as exc:
            refuse(dest, f"not JSON ({type(exc).__name__})", item)
            return
        problem = envelope_problem(message, self.decode_body)
        if problem is not None:
            refuse(dest, problem, item)
            return
        try:
            self.connection._deliver(message, dest)
        except NETWORK_ERRORS:
            raise
        except Exception as exc:
            # Celery failed half-way (it may hold a pool slot for the message): keep the
            # message, and stop this worker gracefully, as SIGTERM does, so its running tasks
            # finish and its supervisor starts a clean one.
            refuse(dest, f"delivery failed: {exc!r}", item)
            tag = message["properties"]["delivery_tag"]
            if tag in self.qos._delivered:
                self.qos.reject(tag, requeue=False)
            from celery.worker import state

            log.critical("a message broke delivery; stopping this worker gracefully")
            state.should_stop = 1

    def _get(self, queue: str) -> Any:
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                item = client.rpop(self._q_for_pri(queue, pri))
                if item:
                    self._maybe_update_queues_expire(client, queue)
                    try:
                        message = loads(bytes_to_str(item))
                    except (ValueError, TypeError) as exc:
                        refuse(queue, f"not JSON ({type(exc).__name__})", item)
                        raise Empty() from None
                    problem = envelope_problem(message, self.decode_body)
                    if problem is not None:
                        refuse(queue, problem, item)
                        raise Empty()
                    return message
            self._maybe_update_queues_expire(client, queue)
            raise Empty()

    def _deliver_fanout_message(self, message: Any, exchange: Any) -> Any:
        # Broadcasts (remote control, events): a malformed one is dropped, not fatal.
        problem = envelope_problem(message)
        if problem is not None:
            log.warning("dropped a broadcast message on %s: %s", exchange, problem)
            return False
        return super()._deliver_fanout_message(message, exchange)


class Transport(kombu_redis.Transport):
    Channel = Channel


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """`Channel` on the master that Sentinel names (a `sentinel://` broker URL). kombu finds
    the sentinels through the channel's connection, which a closed channel no longer has:
    they are remembered, so a task received before a failover is acknowledged on the new
    master."""

    _sentinels: list[tuple[str, int]] | None = None

    def _sentinel_managed_pool(self, asynchronous: bool = False) -> Any:
        conn = self.connection
        if conn is not None and conn.client is not None:
            parsed = [kombu_redis._parse_url(url) for url in conn.client.alt]
            self._sentinels = [(u.hostname, u.port or conn.default_port) for u in parsed
                               if u.scheme == "sentinel"]
            return super()._sentinel_managed_pool(asynchronous)
        params = self._connparams(asynchronous)
        sentinels = self._sentinels or [(params["host"], params["port"])]
        for name in ("host", "port"):
            params.pop(name, None)
        manager = kombu_redis.sentinel.Sentinel(
            sentinels, min_other_sentinels=getattr(self, "min_other_sentinels", 0),
            sentinel_kwargs=getattr(self, "sentinel_kwargs", None), **params)
        self._sentinel_manager = manager
        credentials = {k: params[k] for k in ("username", "password") if k in params}
        return manager.master_for(self.master_name, redis.Redis,
                                  **credentials).connection_pool


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = SentinelChannel
