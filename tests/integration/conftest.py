"""Integration fixtures: real Redis and PostgreSQL, real `graft` scheduler and worker processes.

`cluster` is a graft cluster per state backend (SQLite file, fresh PostgreSQL database), started
once per session and shared by the tests of that backend. Each cluster has its own Redis
database number, key prefix, store, home and cache folders. Its processes run with their working
directory in a temporary folder and without PYTHONPATH, so they cannot import the tests'
workflow modules: they get user code only from code bundles.

Servers: GRAFT_IT_REDIS (default redis://127.0.0.1:6379) and GRAFT_IT_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/test, a database the suite connects to in order
to create and drop its own). Without them the tests are skipped, or fail under CI=true.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("GRAFT_IT_REDIS", "redis://127.0.0.1:6379").rstrip("/")
POSTGRES_URL = os.environ.get("GRAFT_IT_POSTGRES",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_DBS = {"sqlite": 12, "postgresql": 13}  # never 0..5: people run their own stacks there
START_TIMEOUT_S = 60
BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


# ---- servers --------------------------------------------------------------------------------

def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _unavailable(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}): start it with "
                     f"`redis-server --daemonize yes` (or set GRAFT_IT_REDIS)")


def require_postgres() -> None:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        _unavailable(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}): "
                     f"start it with `service postgresql start` (trust auth for user postgres, "
                     f"database test) or set GRAFT_IT_POSTGRES")


@pytest.fixture(scope="session")
def redis_server() -> str:
    require_redis()
    return REDIS_URL


# ---- processes ------------------------------------------------------------------------------

def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return f"--- {path.name} (last {lines} lines) ---\n" + "\n".join(text.splitlines()[-lines:])


class Proc:
    """A graft process in its own session (process group), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path,
                 ready: str):
        self.name = name
        self.log = log
        self.ready_text = ready
        self.out = open(log, "ab")  # noqa: SIM115
        self.popen = subprocess.Popen([sys.executable, "-m", "sdk.cli", *argv], env=env,
                                      cwd=cwd, stdout=self.out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.popen.pid
        self.reaped = False
        atexit.register(self._last_resort)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def is_ready(self) -> bool:
        try:
            return self.ready_text in self.log.read_text(errors="replace")
        except OSError:
            return False

    def signal_group(self, sig: int) -> None:
        if self.reaped:  # the group is gone: its id may belong to someone else by now
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def _last_resort(self) -> None:
        """At exit of a pytest that skipped teardown: leave no graft process behind."""
        self.signal_group(signal.SIGKILL)

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace_s)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group (also worker children that outlive their parent)."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
            self.reaped = True
        self.out.close()


def wait_ready(procs: list[Proc], timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        waiting = [p for p in procs if not p.is_ready()]
        dead = [p for p in waiting if not p.alive()]
        if not waiting:
            return
        if dead or time.monotonic() > deadline:
            what = "exited" if dead else f"not ready after {timeout_s} s"
            names = ", ".join(p.name for p in (dead or waiting))
            raise RuntimeError(f"graft process(es) {names} {what} (expected "
                               f"{waiting[0].ready_text!r} in the log)\n"
                               + "\n".join(tail(p.log) for p in waiting))
        time.sleep(0.1)


class Cluster:
    """A graft scheduler and tier workers on one Redis database and one state database."""

    def __init__(self, backend: str, root: Path):
        self.backend = backend
        self.root = root
        self.redis_db = REDIS_DBS[backend]
        self.broker_url = f"{REDIS_URL}/{self.redis_db}"
        self.key_prefix = f"graftit-{backend}-{uuid.uuid4().hex[:8]}"
        self.store_url = str(root / "store")
        self.home = root / "home"
        self.cache_dir = root / "cache"
        self.cwd = root / "cwd"  # outside the repository: nothing of the tests is importable
        self.logs = root / "logs"
        for d in (self.home, self.cache_dir, self.cwd, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        self.pg_database: str | None = None
        if backend == "sqlite":
            self.database_url = f"sqlite:///{root / 'state.db'}"
        else:
            self.pg_database = f"graft_it_{uuid.uuid4().hex[:12]}"
            self.database_url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + self.pg_database
        self.env = self._env()
        self.scheduler: Proc | None = None
        self.workers: list[Proc] = []
        self._starts = 0

    # -- configuration --

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GRAFT_") and k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update({
            "GRAFT_BROKER_URL": self.broker_url,
            "GRAFT_STORE": self.store_url,
            "GRAFT_DATABASE_URL": self.database_url,
            "GRAFT_TIERS": "256Mi,1Gi,4Gi,16Gi",
            "GRAFT_KEY_PREFIX": self.key_prefix,
            "GRAFT_HOME": str(self.home),
            "GRAFT_CACHE_DIR": str(self.cache_dir),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    @property
    def settings(self) -> Any:
        from sdk.model.config import Settings, parse_tiers

        return Settings(broker_url=self.broker_url, store_url=self.store_url,
                        database_url=self.database_url, tiers=parse_tiers(self.env["GRAFT_TIERS"]),
                        key_prefix=self.key_prefix)

    def client(self) -> Any:
        from sdk.remote.client import Client

        return Client(self.settings)

    def redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.broker_url)

    # -- lifecycle --

    def setup_servers(self) -> None:
        self.redis().flushdb()
        if self.pg_database:
            from sqlalchemy import create_engine, text

            admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.pg_database}"'))
            admin.dispose()

    def teardown_servers(self) -> None:
        try:
            self.redis().flushdb()
        finally:
            if self.pg_database:
                from sqlalchemy import create_engine, text

                admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = :d AND pid <> pg_backend_pid()"),
                                 {"d": self.pg_database})
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_database}"'))
                admin.dispose()

    def _spawn(self, name: str, argv: list[str], ready: str) -> Proc:
        self._starts += 1
        return Proc(name, argv, self.env, self.cwd, self.logs / f"{self._starts:02d}-{name}.log",
                    ready)

    def start(self) -> None:
        self.setup_servers()
        self.scheduler = self._spawn("scheduler", ["scheduler"], "scheduler serving")
        self.workers = [self._spawn(f"worker-{tier}", ["worker", "--tier", tier, "-c", "2"],
                                    "ready.") for tier in ("256Mi", "1Gi")]
        wait_ready([self.scheduler, *self.workers])

    def stop(self) -> None:
        procs = [p for p in [self.scheduler, *self.workers] if p is not None]
        for p in procs:  # all at once, then wait for each
            if p.alive():
                p.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            p.kill()
        self.teardown_servers()

    def start_worker(self, tier: str, concurrency: int = 1) -> Proc:
        """One more worker (stop it with `.stop()`); returns once it is ready."""
        proc = self._spawn(f"worker-{tier}", ["worker", "--tier", tier, "-c", str(concurrency)],
                           "ready.")
        self.workers.append(proc)
        wait_ready([proc])
        return proc

    def stop_scheduler(self) -> None:
        assert self.scheduler is not None
        self.scheduler.stop()

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler. Its lock would block a successor for up to 15 s; we know the
        holder is dead, so we drop it."""
        assert self.scheduler is not None
        self.scheduler.kill()
        self.redis().delete(f"{self.key_prefix}:scheduler:lock")

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", ["scheduler"], "scheduler serving")
        wait_ready([self.scheduler])

    def ensure_running(self) -> None:
        """Before each test: restart a scheduler a failed test left stopped; fail loudly if
        a process died on its own."""
        for w in self.workers[:2]:
            if not w.alive():
                raise RuntimeError(f"{w.name} of the {self.backend} cluster died\n{tail(w.log)}")
        if self.scheduler is None or not self.scheduler.alive():
            self.start_scheduler()

    def scheduler_log(self) -> str:
        assert self.scheduler is not None
        return self.scheduler.log.read_text(errors="replace")

    def logs_tail(self) -> str:
        return "\n".join(tail(p) for p in sorted(self.logs.glob("*.log")))

    # -- the broker --

    def publish(self, body: Any) -> None:
        """Put a raw control message on the scheduler's queue (no validation)."""
        from kombu import Connection

        from sdk.remote.broker import publish

        with Connection(self.broker_url) as conn:
            publish(conn, self.settings, body)

    # -- the state database --

    def query(self, sql: str, **params: Any) -> list[tuple]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def run_cli(self, *args: str, cwd: Path | None = None, timeout: float = 120,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m sdk.cli ARGS` against this cluster."""
        return subprocess.run([sys.executable, "-m", "sdk.cli", *args], cwd=cwd or self.cwd,
                              env=env or self.env, capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture(scope="session", params=BACKENDS, ids=BACKENDS)
def cluster_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                    ) -> Any:
    require_redis()
    if request.param == "postgresql":
        require_postgres()
    cluster = Cluster(request.param, tmp_path_factory.mktemp(f"cluster-{request.param}"))
    started = time.monotonic()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    cluster.startup_s = time.monotonic() - started
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster(cluster_session: Cluster, monkeypatch: pytest.MonkeyPatch,
            request: pytest.FixtureRequest) -> Any:
    """The session's cluster, with this process's GRAFT_STORE pointed at its store: compiling a
    workflow offloads large literals to GRAFT_STORE, which the workers must be able to read."""
    if "graft_dirs" in request.fixturenames:
        request.getfixturevalue("graft_dirs")  # set first, so that ours win
    monkeypatch.setenv("GRAFT_STORE", cluster_session.store_url)
    monkeypatch.delenv("GRAFT_BOARD_URL", raising=False)
    cluster_session.ensure_running()
    yield cluster_session
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(cluster_session.logs_tail())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; AssertionError after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


@pytest.fixture
def wait_for() -> Any:
    """`wait_for(predicate, timeout_s, what)`: poll until truthy, return the value."""
    return _wait_for
