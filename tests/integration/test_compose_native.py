"""docker-compose.yml's graft services, run natively: there is no Docker engine here, so this
test reads each service's command and environment from the file and starts those exact
commands (the image's ENTRYPOINT, `graft`, before each) as processes on this machine.

What differs from a container is only where things are: `redis:6379` and `postgres:5432`
become this test's private servers, the store volume's host side is a temporary folder, and
the listening ports are free ones. Redis gets the file's password; PostgreSQL gets the file's
role, password and database. Then every service's health check (run natively too) must pass,
workflows must run through the worker services of all three tiers, Flower must answer its
API with the file's basic auth, and the graph page and the metrics port must answer.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from compose_file import dockerfile_entrypoint, graft_services, load, read_env_file, start_order
from native_stack import graft_database, http_get, start, stop
from servers import free_port
from workflows import cluster_wf

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BIN = Path(sys.executable).parent


def _native_env(service: dict, places: dict[str, str], folders: Path) -> dict[str, str]:
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(folders / "home"), "PYTHONUNBUFFERED": "1",
           # the image's ENV, with its folders here
           "GRAFT_HOME": str(folders / "home"), "GRAFT_CACHE_DIR": str(folders / "cache")}
    for name, value in service["environment"].items():
        for inside, outside in places.items():
            value = value.replace(inside, outside)
        env[name] = value
    return env


def _healthy(service: dict, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    test = service["healthcheck"]["test"]
    argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_compose_services_run_workflows_natively(private_redis, postgres_server, tmp_path):
    # deploy/example.env's placeholders are refused as secrets: a real .env replaces them
    dotenv = {k: v.replace("change-me", secrets.token_hex(8)) for k, v in read_env_file().items()}
    project = load(dotenv)
    redis = private_redis(password=dotenv["REDIS_PASSWORD"])
    pg_where = graft_database(postgres_server, dotenv["POSTGRES_PASSWORD"])
    store = tmp_path / "graft-store"  # the host side of the store volume
    store.mkdir()
    ports = {"GRAFT_METRICS_PORT": free_port(), "FLOWER_PORT": free_port(),
             "GRAFT_UI_PORT": free_port()}
    places = {"@redis:6379": f"@127.0.0.1:{redis.port}", "@postgres:5432": f"@{pg_where}",
              "/var/lib/graft/store": str(store), "0.0.0.0": "127.0.0.1"}
    services = graft_services(project)
    entrypoint = [str(BIN / dockerfile_entrypoint()[0])]
    procs: dict[str, subprocess.Popen] = {}
    envs: dict[str, dict[str, str]] = {}
    try:
        for name in start_order(project, list(services)):
            service = services[name]
            env = _native_env(service, places, tmp_path / name)
            env.update({k: str(v) for k, v in ports.items() if k in env})
            envs[name] = env
            procs[name] = start([*entrypoint, *service["command"]], env, tmp_path / name,
                                tmp_path / f"{name}.log")
        deadline = time.monotonic() + 120
        waiting = set(services)
        while waiting and time.monotonic() < deadline:
            for name in sorted(waiting):
                assert procs[name].poll() is None, (
                    f"{name} exited:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}")
                if _healthy(services[name], envs[name], tmp_path / name).returncode == 0:
                    waiting.discard(name)
            time.sleep(1)
        assert not waiting, f"not healthy within 120 s: {sorted(waiting)}"

        from sdk.model.config import Settings, parse_tiers
        from sdk.remote.client import Client

        scheduler_env = envs["scheduler"]
        client = Client(Settings(
            broker_url=scheduler_env["GRAFT_BROKER_URL"], store_url=str(store),
            database_url=scheduler_env["GRAFT_DATABASE_URL"],
            tiers=parse_tiers(scheduler_env["GRAFT_TIERS"]),
            key_prefix=scheduler_env["GRAFT_KEY_PREFIX"],
            secret=scheduler_env["GRAFT_SECRET"].encode()))
        small = client.submit(cluster_wf.tiers_wf, x=1)
        big = client.submit(cluster_wf.big_wf, x=4)
        remote = small.wait(timeout=120)
        assert [r.split("@")[0] for r in remote] == [r.split("@")[0] for r in
                                                     cluster_wf.tiers_wf(x=1)]
        assert [r.split("@")[1].split("-")[1] for r in remote] == ["1Gi", "1Gi", "256Mi"]
        value, worker = big.wait(timeout=120).split("@", 1)
        assert value == "40" and worker.startswith("mem-4Gi-")

        flower = f"http://127.0.0.1:{ports['FLOWER_PORT']}"
        assert http_get(f"{flower}/api/workers")[0] == 401
        deadline = time.monotonic() + 30
        while True:
            status, body = http_get(f"{flower}/api/tasks", auth=dotenv["FLOWER_BASIC_AUTH"])
            if (status == 200 and small.id.encode() in body) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert status == 200 and small.id.encode() in body and b"limit_600mi" in body
        ui = f"http://127.0.0.1:{ports['GRAFT_UI_PORT']}"
        assert http_get(f"{ui}/")[0] == 401  # the login from .env's GRAFT_UI_AUTH
        _, user, password, _ = dotenv["GRAFT_UI_AUTH"].split(":")
        assert http_get(f"{ui}/", auth=f"{user}:{password}")[0] == 200
        metrics = http_get(f"http://127.0.0.1:{ports['GRAFT_METRICS_PORT']}/metrics")
        assert metrics[0] == 200 and b"graft_" in metrics[1]
    finally:
        stop(list(procs.values()))
        postgres_server.drop_database("graft")
