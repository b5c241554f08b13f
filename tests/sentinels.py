"""A throwaway Redis under Sentinel for the tests: a primary, a replica and three sentinels.

`SentinelGroup(password=...).start()` runs them as private child processes (tests/servers.py's
pattern: free 127.0.0.1 ports, killed by pid, SIGKILLed by the kernel if pytest dies) and
returns once the sentinels agree on the master, know the replica and each other. `url` is
Celery's form, `sentinel://[:password@]127.0.0.1:P1;sentinel://127.0.0.1:P2;...`, and `master`
the name they monitor. The sentinels mark a master down after `down_after_ms` without an
answer, with a quorum of two, so killing the primary (`primary.kill()`) promotes the replica
within a few seconds. `kill_primary_losing_writes` first cuts the replica off, so that the
writes the primary acknowledges last are never replicated: the promoted replica lacks them, as
after a real failover under load.
"""

from __future__ import annotations

import shutil
import signal
import time
from typing import Any
from urllib.parse import quote

from servers import START_TIMEOUT_S, STOP_TIMEOUT_S, RedisServer, ServerError, _Child, free_port

MASTER = "graft"


class SentinelServer(_Child):
    """`redis-server CONF --sentinel` on a free port, monitoring `master_port` as MASTER."""

    name = "redis-sentinel"

    def __init__(self, master_port: int, password: str | None, down_after_ms: int,
                 failover_timeout_ms: int):
        super().__init__("graft-sentinel-")
        self.binary = shutil.which("redis-server")
        self.lines = [f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 2",
                      f"sentinel down-after-milliseconds {MASTER} {down_after_ms}",
                      f"sentinel failover-timeout {MASTER} {failover_timeout_ms}",
                      f"sentinel parallel-syncs {MASTER} 1"]
        if password:
            self.lines.append(f"sentinel auth-pass {MASTER} {password}")

    def start(self, timeout_s: float = START_TIMEOUT_S) -> SentinelServer:
        if self.binary is None:
            raise ServerError("redis-server is not on PATH (Debian: apt-get install "
                              "redis-server)")
        self.port = free_port()
        conf = self.dir / "sentinel.conf"  # a sentinel rewrites its config: its own file
        conf.write_text("\n".join([f"port {self.port}", "bind 127.0.0.1", f"dir {self.dir}",
                                   "daemonize no", "loglevel notice", *self.lines]) + "\n")
        self._spawn([self.binary, str(conf), "--sentinel"], cwd=self.dir)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise self._start_failure(self.port, timeout_s, False)
            if self.answer("PING") is not None:
                return self
            time.sleep(0.02)
        raise self._start_failure(self.port, timeout_s, False)

    def answer(self, *command: str) -> Any:
        """The sentinel's reply to `command`, or None when it does not answer."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1,
                             retry=None, decode_responses=True)
        try:
            return client.execute_command(*command)
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self._stop(signal.SIGTERM, timeout_s)


class SentinelGroup:
    """A primary, a replica of it, and three sentinels watching them."""

    def __init__(self, password: str | None = None, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 3000):
        self.password = password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.primary = RedisServer(password=password)
        self.replica: RedisServer | None = None
        self.sentinels: list[SentinelServer] = []

    @property
    def master(self) -> str:
        return MASTER

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return ";".join(f"sentinel://{auth if i == 0 else ''}127.0.0.1:{s.port}"
                        for i, s in enumerate(self.sentinels))

    def start(self, timeout_s: float = START_TIMEOUT_S) -> SentinelGroup:
        self.primary.start()
        assert self.primary.port is not None
        replica_args = ["--replicaof", "127.0.0.1", str(self.primary.port)]
        if self.password:
            replica_args += ["--masterauth", self.password]
        self.replica = RedisServer(password=self.password, args=replica_args).start()
        self.sentinels = [SentinelServer(self.primary.port, self.password, self.down_after_ms,
                                         self.failover_timeout_ms).start() for _ in range(3)]
        self._wait_settled(time.monotonic() + timeout_s)
        return self

    def master_port(self) -> int | None:
        """The master's port as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            address = sentinel.answer("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
            if address:
                return int(address[1])
        return None

    def _wait_settled(self, deadline: float) -> None:
        """Until each sentinel knows the replica (in sync) and the two other sentinels."""
        while time.monotonic() < deadline:
            masters = [s.answer("SENTINEL", "MASTER", MASTER) for s in self.sentinels]
            if all(m and _field(m, "num-slaves") == "1" and _field(m, "num-other-sentinels")
                   == "2" for m in masters) and self._replica_in_sync():
                return
            time.sleep(0.1)
        raise ServerError("the sentinels did not find the replica and each other within "
                          f"{START_TIMEOUT_S:.0f} s", "\n".join(s.log_tail() for s in
                                                                 self.sentinels))

    def _info(self, server: RedisServer) -> dict[str, Any]:
        import redis

        client = redis.Redis(port=server.port, password=self.password, socket_timeout=2,
                             retry=None, decode_responses=True)
        try:
            return client.info("replication")
        finally:
            client.close()

    def _replica_in_sync(self) -> bool:
        import redis

        assert self.replica is not None
        try:
            return self._info(self.replica).get("master_link_status") == "up"
        except (redis.RedisError, OSError):
            return False

    def kill_primary_losing_writes(self, window_s: float) -> int:
        """Stop the replica (SIGSTOP), have the primary drop its link, let clients write to
        the primary alone for `window_s`, SIGKILL the primary, let the replica go on
        (SIGCONT). Returns the primary's replication offset at the kill: the replica,
        promoted, holds the stream only up to its `second_repl_offset` - 1."""
        import redis

        assert self.replica is not None
        self.replica._signal(signal.SIGSTOP)  # it cannot reconnect while stopped
        try:
            client = redis.Redis(port=self.primary.port, password=self.password,
                                 socket_timeout=2, retry=None)
            try:
                client.client_kill_filter(_type="replica")
                time.sleep(window_s)
                offset = int(client.info("replication")["master_repl_offset"])
            finally:
                client.close()
            self.primary.kill()
        finally:
            self.replica._signal(signal.SIGCONT)
        return offset

    def kept_offset(self) -> int:
        """The last offset of the old primary's stream the promoted replica holds."""
        assert self.replica is not None
        return int(self._info(self.replica)["second_repl_offset"]) - 1

    def wait_failover(self, old_port: int, timeout_s: float = 30.0) -> int:
        """The new master's port, once the sentinels name another than `old_port`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            port = self.master_port()
            if port is not None and port != old_port:
                return port
            time.sleep(0.05)
        raise ServerError(f"no failover within {timeout_s:.0f} s",
                          "\n".join(s.log_tail() for s in self.sentinels))

    def close(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            if server is not None:
                server.close()


def _field(reply: Any, name: str) -> str | None:
    """A field of `SENTINEL MASTER`'s reply (a flat list, or a dict in RESP3)."""
    if isinstance(reply, dict):
        return str(reply.get(name))
    pairs = dict(zip(reply[::2], reply[1::2]))
    return pairs.get(name)
