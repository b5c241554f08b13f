"""What GRAFT_SECRET protects on a real cluster: cache entries are signed, and one rewritten
in the store to name a malicious pickle is refused as a miss (the task runs again, nothing is
unpickled, one line names it); a task's process inherits neither the secret nor the broker's
password; and a cluster without a secret says so once at start."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from workflows import cached, exposure
from workflows.failing import count

from sdk.runtime.cache import cluster_index, entry_key
from sdk.values.store import open_store, put_blob
from sdk.wire.signing import UNSET_WARNING

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET = "a-long-shared-secret-for-the-cache"
REDIS_PASSWORD = "redis-pass-word-9"


class Exploit:
    """Unpickling it runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_with_a_secret_a_forged_cache_entry_is_a_miss_and_tasks_see_no_credentials(
        make_cluster, private_redis, tmp_path):
    cluster = make_cluster(env={"GRAFT_SECRET": SECRET},
                           redis=private_redis(password=REDIS_PASSWORD))
    client = cluster.client()
    counter = str(tmp_path / "counter")

    def boxed() -> int:
        return client.submit(exposure.boxed_wf, n=7, counter_dir=counter).wait(timeout=60)

    assert boxed() == 7 and boxed() == 7
    assert count(counter, "cached_box") == 1  # signed by the worker, accepted by the next
    # A dynamic's entry is saved by the scheduler: signed with the same key, it hits too.
    for _ in range(2):
        assert client.submit(cached.cached_wf, n=3, counter_dir=counter).wait(timeout=60) == 5
    assert count(counter, "cached_fan") == 1

    store = open_store(cluster.store_url)
    [entry] = [e for e in cluster_index(store, entry_key(SECRET.encode())).entries()
               if e.task == "cached_box"]
    assert entry.refused == ""
    path = f"cache/{entry.key}.json"
    marker = tmp_path / "unpickled"
    evil = put_blob(store, pickle.dumps(Exploit(marker)))  # content-addressed: it verifies
    forged_outputs = {"o0": {"val": {"v": {"pickle": evil}}}}

    for forge, reason in ((lambda d: d.update(outputs=forged_outputs), "signature is wrong"),
                          (lambda d: (d.update(outputs=forged_outputs), d.pop("sig")),
                           "not signed")):
        data = json.loads(store.get(path))
        forge(data)
        store.put(path, json.dumps(data).encode())
        listed = cluster.run_cli("cache", "ls", "--task", "cached_box")
        assert f"refused: {'it is not signed' if 'not' in reason else 'its ' + reason}" \
            in listed.stdout, listed.stdout + listed.stderr
        runs = count(counter, "cached_box")
        assert boxed() == 7
        assert not marker.exists(), "a forged cache entry's pickle was unpickled"
        assert count(counter, "cached_box") == runs + 1  # a miss: the task ran again
        logs = "".join(w.log.read_text(errors="replace") for w in cluster.workers)
        assert f"{path} refused, treated as a miss: " in logs and reason in logs
    assert cluster_index(store, entry_key(SECRET.encode())).read(path).refused == ""

    seen = client.submit(exposure.environments).wait(timeout=60)
    for where, env in seen.items():
        assert "GRAFT_STORE" in env, where  # what the task may use is still there
        leaked = {k for k, v in env.items() if SECRET in v or REDIS_PASSWORD in v
                  or k in ("GRAFT_SECRET", "GRAFT_BROKER_URL", "GRAFT_DATABASE_URL")}
        assert not leaked, f"the {where}'s process sees {sorted(leaked)}"
    assert UNSET_WARNING not in cluster.scheduler_log()


def test_without_a_secret_the_scheduler_and_each_worker_say_so_once(cluster):
    assert cluster.scheduler_log().count(UNSET_WARNING) == 1
    for worker in cluster.workers:
        assert worker.log.read_text(errors="replace").count(UNSET_WARNING) == 1, worker.name
