"""Running a deployment's graft services natively, for the tests that prove docker-compose.yml
and deploy/kubernetes without Docker or a cluster (test_compose_native.py,
test_kubernetes_native.py): PostgreSQL as the files set it up, HTTP probes, and the
processes' start and stop."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Any


def graft_database(postgres_server: Any, password: str) -> str:
    """Role `graft` with `password` owning a fresh database `graft`, as the deployment's
    PostgreSQL makes them; returns the server's `host:port`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'graft'")).first()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(text(f"{verb} ROLE graft LOGIN PASSWORD '{password}'"))
    engine.dispose()
    postgres_server.drop_database("graft")
    postgres_server.create_database("graft")
    engine = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ALTER DATABASE graft OWNER TO graft"))
    engine.dispose()
    return postgres_server.url_for("graft").split("@", 1)[1].split("/", 1)[0]


def http_get(url: str, auth: str | None = None, timeout: float = 5) -> tuple[int, bytes]:
    """(status, body) of a GET, with `user:password` basic auth when given; an HTTP error
    is a status, not an exception."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """A service process in a session of its own, its output in `log`."""
    cwd.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(procs: list[subprocess.Popen], grace_s: float = 30) -> None:
    """SIGTERM each process group, then SIGKILL what is left after `grace_s`."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
