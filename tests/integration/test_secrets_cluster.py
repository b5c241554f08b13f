"""Secrets on a real cluster: a task reads them on the worker that runs it, from that worker's
environment and secrets folder; the client, the scheduler and the other workers never hold
them; no command sent to Redis, nothing in the database and nothing in the store carries them.

The cluster signs with GRAFT_SECRET and its Redis has a password, which the secret in the
environment holds: the worker strips variables holding it from a task's environment, except
the secrets it grants (`worker.environment`)."""

from __future__ import annotations

import base64
import os
import threading
import uuid
from pathlib import Path

import pytest
from conftest import Proc, wait_ready
from workflows import secrets

from sdk.model.errors import ExecutionFailed
from sdk.testing import SecretsManager

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REDIS_PASSWORD = "redis-pass-for-secrets-7"
GRAFT_SECRET = "a-long-shared-secret-for-the-secrets-test"


class RedisMonitor:
    """Every command any client sends the Redis server while it runs (MONITOR)."""

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url)
        self.commands: list[str] = []
        self._stopping = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def __enter__(self) -> RedisMonitor:
        self._thread.start()
        assert self._ready.wait(10), "MONITOR did not start"
        return self

    def _listen(self) -> None:
        with self._redis.monitor() as monitor:
            self._ready.set()
            for event in monitor.listen():
                self.commands.append(event["command"])
                if self._stopping:
                    return

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        self._redis.ping()  # one more command wakes the listener up
        self._thread.join(10)


def needles(value: str) -> dict[bytes, str]:
    """`value` and what holds it base64-encoded (kombu's message bodies), at any alignment."""
    data = value.encode()
    found = {data: "as is"}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data)
        found[encoded[4 if shift else 0:-4]] = "base64"
    return found


def leaks(blob: bytes, values: list[str]) -> list[str]:
    return [f"{value[:12]}... ({how})" for value in values
            for needle, how in needles(value).items() if needle in blob]


def redis_contents(url: str) -> bytes:
    """Every key and value in every database of the Redis server at `url`."""
    import redis

    base = url.rsplit("/", 1)[0]
    chunks: list[bytes] = []
    for db in redis.Redis.from_url(url).info("keyspace"):
        r = redis.Redis.from_url(f"{base}/{int(db[2:])}")
        for key in r.scan_iter(count=1000):
            chunks.append(key)
            kind = r.type(key)
            if kind == b"string":
                chunks.append(r.get(key) or b"")
            elif kind == b"list":
                chunks += r.lrange(key, 0, -1)
            elif kind == b"hash":
                for field, value in r.hgetall(key).items():
                    chunks += [field, value]
            elif kind == b"set":
                chunks += list(r.smembers(key))
            elif kind == b"zset":
                chunks += [member for member, _ in r.zrange(key, 0, -1, withscores=True)]
            elif kind == b"stream":
                for _, fields in r.xrange(key):
                    for field, value in fields.items():
                        chunks += [field, value]
            else:
                chunks.append(r.dump(key) or b"")
    return b"\n".join(chunks)


def files_contents(*paths: Path) -> bytes:
    chunks = []
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        chunks += [f.read_bytes() for f in files]
    return b"\n".join(chunks)


def test_a_secret_is_read_on_its_worker_and_carried_or_kept_nowhere(
        make_cluster, private_redis, tmp_path):
    env_value = f"env-{uuid.uuid4().hex}-{REDIS_PASSWORD}"
    file_value = f"file-{uuid.uuid4().hex}"
    plain_value = f"plain-{uuid.uuid4().hex}"
    values = [env_value, file_value, plain_value]
    env_name = SecretsManager().get_secrets_env_var(secrets.GROUP, secrets.KEY)
    assert env_name == "_FSEC_USER-INFO_USER_SECRET" and env_name not in os.environ
    cluster = make_cluster(env={"GRAFT_SECRET": GRAFT_SECRET},
                           redis=private_redis(password=REDIS_PASSWORD))
    folder = tmp_path / "worker-secrets"
    (folder / secrets.FILE_GROUP).mkdir(parents=True)
    (folder / secrets.FILE_GROUP / secrets.FILE_KEY).write_text(file_value + "\n")
    # The secrets are in the environment of one worker only, the one for mem-4Gi; the
    # scheduler and the cluster's two other workers were started without them.
    holder = Proc("worker-4Gi-secrets", ["worker", "--tier", "4Gi", "-c", "1"],
                  {**cluster.env, env_name: env_value, "FLYTE_SECRETS_DEFAULT_DIR": str(folder),
                   "PLAIN_TOKEN": plain_value},
                  cluster.cwd, cluster.logs / "99-worker-4Gi-secrets.log", "ready.")
    cluster.workers.append(holder)  # stopped with the cluster
    wait_ready([holder])
    client = cluster.client()

    with RedisMonitor(cluster.broker_url) as monitor:
        found = client.submit(secrets.lookups_wf).wait(timeout=90)
        unplaced = client.submit(secrets.secret_wf)
        with pytest.raises(ExecutionFailed) as info:
            unplaced.wait(timeout=90)

    # Read on the worker: from its environment (whatever the variable holds), from its
    # secrets folder; an unprefixed variable counts in-process only, as in flytekit.
    assert found["user-info/user_secret"] == secrets.digest(env_value)
    assert found["certs/ca"] == secrets.digest(file_value.encode())
    assert found["plain/token"].startswith(
        "SecretNotFound: secret group='plain' key='token' not found on worker mem-4Gi-")
    # A worker without the secret fails the task when it asks, naming group and key.
    (failure,) = info.value.failures
    assert (failure.node_id, failure.error_type) == ("secret_digest", "SecretNotFound")
    assert "group='user-info' key='user_secret' not found on worker mem-256Mi-" \
        in failure.message
    assert "_FSEC_USER-INFO_USER_SECRET" in failure.message

    # Nowhere else: not in a command sent to Redis while the executions ran, not in Redis,
    # the state database or the store now, not in any process's log.
    sent = "\n".join(monitor.commands).encode()
    assert unplaced.id.encode() in sent  # the monitor saw the traffic
    assert leaks(sent, values) == []
    assert leaks(redis_contents(cluster.broker_url), values) == []
    database = Path(cluster.database_url.removeprefix("sqlite:///"))
    state = files_contents(*(p for p in database.parent.glob(database.name + "*")))
    assert secrets.digest(env_value).encode() in state  # the outputs, small, are there
    assert leaks(state, values) == []
    store = files_contents(Path(cluster.store_url))
    assert b'"lookups"' in store  # the specs are there
    assert leaks(store, values) == []
    assert leaks(files_contents(cluster.logs), values) == []
