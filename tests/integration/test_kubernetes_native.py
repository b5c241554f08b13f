"""deploy/kubernetes's graft containers, run natively: there is no cluster here, so this test
renders the base (tests/kustomize.py), gives each graft container the environment the kubelet
would (the ConfigMap, the Secret's values, `$(NAME)` expansion) and starts its command (the
image's ENTRYPOINT, `graft`, before its args) as a process on this machine.

What differs from pods is only where things are: the Services `redis`, `postgres` and `store`
become this test's private Redis (with the Secret's password), PostgreSQL (the manifest's
role, password and database) and moto's S3 server (the Secret's keys; the bucket the Job
`store-bucket` would make is made here); each `emptyDir` is a folder; ports are free ones.
Then every probe the manifests declare (HTTP and exec) must pass, both scheduler replicas
serve, workflows run through the workers of all three tiers, and after one scheduler is
killed the other goes on serving.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kustomize import KUBERNETES, build, containers, environment, pod_spec
from native_stack import graft_database, http_get, start, stop
from servers import free_port
from workflows import cluster_wf

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BIN = Path(sys.executable).parent


def _secret_values(s3_server) -> dict[str, str]:
    """What `kubectl create secret generic graft` would hold (docs/kubernetes.md); the
    store's keys are the S3 server's."""
    return {"graft/redis-password": secrets.token_hex(12),
            "graft/postgres-password": secrets.token_hex(12),
            "graft/graft-secret": secrets.token_hex(32),
            "graft/store-access-key": s3_server.key, "graft/store-secret-key": s3_server.secret,
            "graft/flower-basic-auth": f"admin:{secrets.token_hex(8)}",
            "graft/ui-auth": f"basic:admin:{secrets.token_hex(8)}:read"}


def _probe(probe: dict, ports: dict[str, int], env: dict[str, str], cwd: Path) -> bool:
    """Whether a readiness or liveness probe passes, run as the kubelet would."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        try:
            status, _ = http_get(f"http://127.0.0.1:{ports[get['port']]}{get['path']}")
        except OSError:  # not listening yet
            return False
        return 200 <= status < 400
    if "exec" in probe:
        done = subprocess.run(probe["exec"]["command"], env=env, cwd=cwd, capture_output=True,
                              timeout=60)
        return done.returncode == 0
    raise AssertionError(f"a probe of a kind this test does not run: {probe}")


def test_the_kubernetes_graft_containers_run_natively_and_pass_their_probes(
        private_redis, postgres_server, s3_server, tmp_path):
    objects = build(KUBERNETES / "base")
    values = _secret_values(s3_server)
    redis = private_redis(password=values["graft/redis-password"])
    pg_where = graft_database(postgres_server, values["graft/postgres-password"])
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    s3_server.make_bucket(urlsplit(config["GRAFT_STORE"]).hostname)  # the Job store-bucket
    places = {"@redis:6379": f"@127.0.0.1:{redis.port}", "@postgres:5432": f"@{pg_where}",
              "http://store:9000": s3_server.endpoint, "0.0.0.0": "127.0.0.1"}
    workloads = {o["metadata"]["name"]: o for o in objects if pod_spec(o) is not None}
    running: list[tuple[str, dict, dict[str, str], dict[str, int], Path]] = []
    procs: list[subprocess.Popen] = []
    try:
        for name, workload in sorted(workloads.items()):
            [container] = containers(workload)
            if container["image"].split(":")[0] != "graft":
                continue  # redis, postgres, store and the Job: served by this test
            for replica in range(workload["spec"].get("replicas", 1)):
                folder = tmp_path / f"{name}-{replica}"
                ports = {p["name"]: free_port() for p in container.get("ports", [])}
                declared = {str(p["containerPort"]): str(ports[p["name"]])
                            for p in container.get("ports", [])}
                env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                       "PYTHONUNBUFFERED": "1"}
                for key, value in environment(container, objects, values).items():
                    for inside, outside in places.items():
                        value = value.replace(inside, outside)
                    env[key] = declared.get(value, value)  # a port variable: this one's
                for volume in container.get("volumeMounts", []):  # each emptyDir, a folder
                    inside = volume["mountPath"]
                    outside = folder / volume["name"]
                    outside.mkdir(parents=True)
                    env = {k: v.replace(inside, str(outside)) if v.startswith(inside) else v
                           for k, v in env.items()}
                procs.append(start([str(BIN / "graft"), *container["args"]], env, folder,
                                   tmp_path / f"{name}-{replica}.log"))
                running.append((f"{name}-{replica}", container, env, ports, folder))

        deadline, waiting = time.monotonic() + 150, {r[0] for r in running}
        while waiting and time.monotonic() < deadline:
            for (who, container, env, ports, folder), proc in zip(running, procs):
                log = tmp_path / f"{who}.log"
                assert proc.poll() is None, f"{who} exited:\n{log.read_text()[-3000:]}"
                if who in waiting and all(
                        _probe(container[kind], ports, env, folder)
                        for kind in ("readinessProbe", "livenessProbe") if kind in container):
                    waiting.discard(who)
            time.sleep(1)
        assert not waiting, f"probes not passing within 150 s: {sorted(waiting)}"

        from sdk.model.config import Settings, parse_store_options, parse_tiers
        from sdk.remote.client import Client

        env = next(r[2] for r in running if r[0] == "scheduler-0")
        client = Client(Settings(
            broker_url=env["GRAFT_BROKER_URL"], store_url=env["GRAFT_STORE"],
            store_options={**parse_store_options(env["GRAFT_STORE_OPTIONS"]),
                           "key": s3_server.key, "secret": s3_server.secret},
            database_url=env["GRAFT_DATABASE_URL"], tiers=parse_tiers(env["GRAFT_TIERS"]),
            key_prefix=env["GRAFT_KEY_PREFIX"], secret=env["GRAFT_SECRET"].encode()))
        small = client.submit(cluster_wf.tiers_wf, x=1)
        big = client.submit(cluster_wf.big_wf, x=4)
        remote = small.wait(timeout=120)
        assert [r.split("@")[1].split("-")[1] for r in remote] == ["1Gi", "1Gi", "256Mi"]
        value, worker = big.wait(timeout=120).split("@", 1)
        assert value == "40" and worker.startswith("mem-4Gi-")
        for who in ("scheduler-0", "scheduler-1"):  # both replicas serve shards
            ports = next(r[3] for r in running if r[0] == who)
            status, body = http_get(f"http://127.0.0.1:{ports['metrics']}/metrics")
            assert status == 200 and b"graft_" in body, who

        # One scheduler dies: the other takes its shards within a lease time and goes on.
        first = next(p for (who, *_), p in zip(running, procs) if who == "scheduler-0")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        after = client.submit(cluster_wf.tiers_wf, x=2)
        assert [r.split("@")[0] for r in after.wait(timeout=120)] == \
            [r.split("@")[0] for r in cluster_wf.tiers_wf(x=2)]
        ui = f"http://127.0.0.1:{next(r for r in running if r[0] == 'ui-0')[3]['http']}"
        assert http_get(f"{ui}/api/executions/{after.id}")[0] == 401  # the Secret's login
        _, user, password, _ = values["graft/ui-auth"].split(":")
        status, body = http_get(f"{ui}/api/executions/{after.id}", auth=f"{user}:{password}")
        assert status == 200 and json.loads(body)["status"] == "SUCCEEDED"
    finally:
        stop(procs)
        postgres_server.drop_database("graft")
