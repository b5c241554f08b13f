"""Integration fixtures: real Redis and PostgreSQL, real `graft` scheduler and worker processes.

`cluster` is a graft cluster per state backend (SQLite file, fresh PostgreSQL database), started
once per session and shared by the tests of that backend. Each cluster has its own Redis
database number, key prefix, store, home and cache folders. Its processes run with their working
directory in a temporary folder and without PYTHONPATH, so they cannot import the tests'
workflow modules: they get user code only from code bundles.

Servers: no test touches a server it did not start. The session starts its own throwaway
servers (tests/servers.py) on free 127.0.0.1 ports and stops them at the end:

- `redis_server` (session): a private `servers.RedisServer`; `.url` is redis://127.0.0.1:PORT
  without a database number (append `/N`). The clusters use databases 12 to 15 on it
  (test_retention_cluster.py's own cluster, 8).
- `s3_server` (session, started only when an S3 test runs): moto's standalone S3 server
  (`s3_server.S3Server`) with the bucket `graft-it`; `s3_cluster` is a cluster (one per test
  module) whose store is in that bucket, on database 14 of the session's Redis.
- `postgres_server` (session, started only when a PostgreSQL test runs): a private
  `servers.PostgresServer`; each PostgreSQL cluster creates its own database on it
  (`create_database`, `drop_database`, `url_for(database)`).
- `private_redis` (per test): a factory, `private_redis(password=None) -> RedisServer`, for
  tests that stop, kill, restart or empty Redis; every server it started is stopped after the
  test. It always starts a new redis-server, even when GRAFT_IT_REDIS is set.

They need `redis-server` on PATH and PostgreSQL's `initdb` and `postgres` (PATH or
/usr/lib/postgresql/*/bin); as root PostgreSQL runs as the `postgres` system user. When one
cannot be started, the tests that need it are skipped with a one-line reason, or fail under
CI=true.

Opt-in only: GRAFT_IT_REDIS=redis://HOST:PORT (no database number) and/or
GRAFT_IT_POSTGRES=postgresql+psycopg://USER@HOST:PORT/DB (a database to connect to in order to
create and drop the suite's own) make the session use those servers instead. The suite then
FLUSHes databases 8 and 11 to 15 of that Redis and creates and drops `graft_it_*` databases on that
PostgreSQL. Unset (the default), they are never used, whatever runs on 6379 or 5432.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from s3_server import S3Server, why_s3_unavailable
from servers import (
    ExternalPostgres,
    ExternalRedis,
    PostgresServer,
    RedisServer,
    ServerError,
    why_unavailable,
)

REPO = Path(__file__).resolve().parents[2]
# Each cluster's own database on the session's Redis (test_up.py uses 11). On the private server
# any number would do; they stay away from 0..5 for someone who opts into GRAFT_IT_REDIS.
REDIS_DBS = {"sqlite": 12, "postgresql": 13}
S3_REDIS_DB = 14  # the S3 store's cluster (s3_cluster); 15: test_no_shared_fs_cluster.py
S3_BUCKET = "graft-it"
START_TIMEOUT_S = 60
BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


# ---- servers --------------------------------------------------------------------------------

def _unavailable(message: str, details: str = "") -> NoReturn:
    """Skip with `message` (one line), or fail under CI=true, where every test must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + (f"\n{details}" if details else ""), pytrace=False)
    pytest.skip(message)


def _opted_in(variable: str) -> str | None:
    return os.environ.get(variable, "").strip() or None


def _start(make: Callable[[], Any], kind: str) -> Any:
    """A started private server, or skip (fail under CI) saying in one line why not."""
    what = {"redis": "Redis", "postgres": "PostgreSQL"}[kind]
    reason = why_unavailable(kind)
    if reason:
        _unavailable(f"cannot start a private {what} for the integration tests: {reason}")
    server = make()
    try:
        return server.start()
    except ServerError as exc:
        server.close()
        _unavailable(f"cannot start a private {what} for the integration tests: {exc}",
                     exc.details)


def _session_server(variable: str, external: Any, private: Any, kind: str) -> Iterator[Any]:
    """The session's server of one kind: an external one when `variable` names it, else a
    private one, stopped at the end."""
    url = _opted_in(variable)
    if url:
        server = external(url)
        try:
            server.check()
        except ServerError as exc:
            _unavailable(str(exc))
        yield server
        return
    server = _start(private, kind)
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | ExternalRedis]:
    """The session's Redis: a private RedisServer (an ExternalRedis only when GRAFT_IT_REDIS is
    set). Use `.url` (no database number: append `/N`)."""
    yield from _session_server("GRAFT_IT_REDIS", ExternalRedis, RedisServer, "redis")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | ExternalPostgres]:
    """The session's PostgreSQL: a private PostgresServer (an ExternalPostgres only when
    GRAFT_IT_POSTGRES is set), with `url_for`, `create_database`, `drop_database`."""
    yield from _session_server("GRAFT_IT_POSTGRES", ExternalPostgres, PostgresServer,
                               "postgres")


@pytest.fixture
def private_redis() -> Iterator[Callable[..., RedisServer]]:
    """`private_redis(password=None, persistent=False)` starts one more throwaway RedisServer,
    this test's to stop, kill or `restart_empty()`; all of them are stopped when the test
    ends."""
    started: list[RedisServer] = []

    def start(password: str | None = None, persistent: bool = False) -> RedisServer:
        server = _start(lambda: RedisServer(password=password, persistent=persistent), "redis")
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def private_postgres() -> Iterator[Callable[[], PostgresServer]]:
    """`private_postgres()` starts one more throwaway PostgresServer, this test's to stop,
    kill or `restart()`; all of them are stopped when the test ends. It always starts a new
    cluster (initdb: a few seconds), even when GRAFT_IT_POSTGRES is set."""
    started: list[PostgresServer] = []

    def start() -> PostgresServer:
        server = _start(PostgresServer, "postgres")
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


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
                 ready: str, prefix: list[str] | None = None):
        """`prefix`: a command that runs `python -m sdk.cli ARGV` (and execs it, so that
        the pid stays this process's): `unshare ...` for a worker without the shared
        folders."""
        self.name = name
        self.log = log
        self.ready_text = ready
        self.out = open(log, "ab")  # noqa: SIM115
        self.popen = subprocess.Popen([*(prefix or []), sys.executable, "-m", "sdk.cli", *argv],
                                      env=env,
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

    def __init__(self, backend: str, root: Path, *, redis_url: str = "",
                 postgres: PostgresServer | ExternalPostgres | None = None,
                 broker_url: str | None = None,
                 store_url: str | None = None, store_env: dict[str, str] | None = None,
                 redis_db: int | None = None, worker_prefix: list[str] | None = None):
        """`redis_url`: the server without a database number (a `redis_server`'s `.url`);
        `postgres`: where the postgresql backend creates its database; `broker_url`: the
        whole GRAFT_BROKER_URL instead (a sentinel:// one), in place of `redis_url`.
        `store_url`: the store (default: a folder in `root`), `store_env`: what reaches it
        (the AWS variables, GRAFT_STORE_OPTIONS), set for the cluster's processes and, by
        the fixtures, this one. `redis_db`: default the backend's. `worker_prefix`: `Proc`'s
        `prefix` for the workers."""
        self.backend = backend
        self.root = root
        self.redis_db = REDIS_DBS[backend] if redis_db is None else redis_db
        self.broker_url = broker_url or f"{redis_url.rstrip('/')}/{self.redis_db}"
        self.postgres = postgres
        self.key_prefix = f"graftit-{backend}-{uuid.uuid4().hex[:8]}"
        self.store_url = store_url or str(root / "store")
        self.store_env = dict(store_env or {})
        self.worker_prefix = worker_prefix
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
            if postgres is None:
                raise ValueError("the postgresql backend needs a `postgres` server")
            self.pg_database = f"graft_it_{uuid.uuid4().hex[:12]}"
            self.database_url = postgres.url_for(self.pg_database)
        self.env = self._env()
        self.scheduler: Proc | None = None
        self.workers: list[Proc] = []
        self._starts = 0

    # -- configuration --

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GRAFT_", "AWS_")) and k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update({
            "GRAFT_BROKER_URL": self.broker_url,
            "GRAFT_STORE": self.store_url,
            "GRAFT_DATABASE_URL": self.database_url,
            "GRAFT_TIERS": "256Mi,1Gi,4Gi,16Gi",
            "GRAFT_KEY_PREFIX": self.key_prefix,
            "GRAFT_HOME": str(self.home),
            "GRAFT_CACHE_DIR": str(self.cache_dir),
            # A schedule test kills and restarts schedulers on a loaded 2-core machine: every
            # missed tick must still run, however long the restart took.
            "GRAFT_SCHEDULE_MAX_CATCHUP": "1000",
            "PYTHONUNBUFFERED": "1",
            **self.store_env,
        })
        return env

    @property
    def settings(self) -> Any:
        from sdk.model.config import (
            Settings,
            parse_store_options,
            parse_tiers,
            with_sentinel_options,
        )

        broker_url = with_sentinel_options(self.broker_url,
                                           self.env.get("GRAFT_SENTINEL_MASTER", ""),
                                           self.env.get("GRAFT_SENTINEL_PASSWORD", ""))
        return Settings(broker_url=broker_url, store_url=self.store_url,
                        store_options=parse_store_options(
                            self.env.get("GRAFT_STORE_OPTIONS") or ""),
                        database_url=self.database_url, tiers=parse_tiers(self.env["GRAFT_TIERS"]),
                        key_prefix=self.key_prefix,
                        secret=(self.env.get("GRAFT_SECRET") or "").encode() or None)

    def client(self) -> Any:
        from sdk.remote.client import Client

        return Client(self.settings)

    def redis(self) -> Any:
        import redis

        from sdk.wire.sentinel import is_sentinel, master_client

        if is_sentinel(self.broker_url):  # the current master
            return master_client(self.settings.broker_url, socket_timeout=10)
        return redis.Redis.from_url(self.broker_url)

    # -- lifecycle --

    def setup_servers(self) -> None:
        """Empty this cluster's Redis database; create its PostgreSQL database. Both servers
        are the session's own (or ones the user opted into)."""
        self.redis().flushdb()
        if self.pg_database:
            assert self.postgres is not None
            self.postgres.create_database(self.pg_database)

    def teardown_servers(self) -> None:
        try:
            self.redis().flushdb()
        finally:
            if self.pg_database:
                assert self.postgres is not None
                self.postgres.drop_database(self.pg_database)

    def _spawn(self, name: str, argv: list[str], ready: str) -> Proc:
        self._starts += 1
        prefix = self.worker_prefix if argv[0] == "worker" else None
        return Proc(name, argv, self.env, self.cwd, self.logs / f"{self._starts:02d}-{name}.log",
                    ready, prefix)

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
        """SIGKILL the scheduler's process group (its successor on this host takes the lock
        over at once: it can prove the holder gone)."""
        assert self.scheduler is not None
        self.scheduler.kill()

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
        """Put a raw control message on the scheduler's control stream (no validation)."""
        from sdk.wire.control import ControlChannel

        ControlChannel(self.redis(), self.settings).publish(body)

    def push_raw(self, queue: str, raw: bytes) -> None:
        """LPUSH raw bytes onto a tier queue, as anyone with access to Redis could."""
        self.redis().lpush(queue, raw)

    def add_raw_entry(self, fields: dict[bytes, bytes]) -> None:
        """XADD an entry with arbitrary fields onto the control stream."""
        from sdk.wire.control import control_key

        self.redis().xadd(control_key(self.settings), fields)

    def dead_letters(self) -> list[dict[str, Any]]:
        from sdk.wire.dead import DeadLetters

        return DeadLetters(self.redis(), self.key_prefix).list(1000)

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
def cluster_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    redis_server: RedisServer | ExternalRedis) -> Any:
    postgres = (request.getfixturevalue("postgres_server") if request.param == "postgresql"
                else None)
    cluster = Cluster(request.param, tmp_path_factory.mktemp(f"cluster-{request.param}"),
                      redis_url=redis_server.url, postgres=postgres)
    started = time.monotonic()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    cluster.startup_s = time.monotonic() - started
    yield cluster
    cluster.stop()


def point_at_store(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this process's GRAFT_STORE (and what reaches it) at `cluster`'s store."""
    monkeypatch.setenv("GRAFT_STORE", cluster.store_url)
    monkeypatch.delenv("GRAFT_STORE_OPTIONS", raising=False)
    for name, value in cluster.store_env.items():
        monkeypatch.setenv(name, value)


def _use(cluster: Cluster, monkeypatch: pytest.MonkeyPatch,
         request: pytest.FixtureRequest) -> Iterator[Cluster]:
    if "graft_dirs" in request.fixturenames:
        request.getfixturevalue("graft_dirs")  # set first, so that ours win
    point_at_store(cluster, monkeypatch)
    monkeypatch.delenv("GRAFT_BOARD_URL", raising=False)
    cluster.ensure_running()
    yield cluster
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(cluster.logs_tail())


@pytest.fixture
def cluster(cluster_session: Cluster, monkeypatch: pytest.MonkeyPatch,
            request: pytest.FixtureRequest) -> Any:
    """The session's cluster, with this process's GRAFT_STORE pointed at its store: compiling a
    workflow offloads large literals to GRAFT_STORE, which the workers must be able to read."""
    yield from _use(cluster_session, monkeypatch, request)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The session's S3 API: moto's standalone server (tests/s3_server.py), with a bucket
    `graft-it`; `.env()` and `.options()` reach it with its access key."""
    reason = why_s3_unavailable()
    if reason:
        _unavailable(f"cannot start an S3 server for the integration tests: {reason}")
    server = S3Server()
    try:
        server.start()
        server.make_bucket(S3_BUCKET)
    except ServerError as exc:
        server.close()
        _unavailable(f"cannot start an S3 server for the integration tests: {exc}",
                     exc.details)
    yield server
    server.close()


@pytest.fixture(scope="module")
def s3_cluster_module(tmp_path_factory: pytest.TempPathFactory,
                      redis_server: RedisServer | ExternalRedis, s3_server: S3Server) -> Any:
    """A cluster (SQLite) whose store is on the S3 server, reached by the AWS environment
    variables; Redis database 14. Shared by the tests of a module, and stopped after them
    (its workers hold what the seed's tasks loaded)."""
    cluster = Cluster("sqlite", tmp_path_factory.mktemp("cluster-s3"),
                      redis_url=redis_server.url, redis_db=S3_REDIS_DB,
                      store_url=f"s3://{S3_BUCKET}/cluster-{uuid.uuid4().hex[:8]}",
                      store_env=s3_server.env())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture
def s3_cluster(s3_cluster_module: Cluster, monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> Any:
    """The module's S3 cluster, this process's store pointed at it (as `cluster`)."""
    yield from _use(s3_cluster_module, monkeypatch, request)


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


@pytest.fixture
def make_cluster(private_redis: Any, private_postgres: Any,
                 tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`make_cluster(backend="sqlite", env={}, redis=None, postgres=None, broker_url=None)`: a
    started cluster on a new private Redis (or on `redis`, or on the whole `broker_url`, a
    sentinel:// one), and for "postgresql" on the session's PostgreSQL (or on `postgres`),
    stopped after the test; this process's GRAFT_STORE points at it. (It asks for
    `private_postgres` so that its clusters stop before those servers do.)"""
    made: list[Cluster] = []

    def make(backend: str = "sqlite", env: dict[str, str] | None = None,
             redis: Any = None, postgres: Any = None, broker_url: str | None = None) -> Cluster:
        server = None if broker_url else redis or private_redis()
        if backend == "postgresql" and postgres is None:
            postgres = request.getfixturevalue("postgres_server")
        cluster = Cluster(backend, tmp_path_factory.mktemp(f"fault-{backend}"),
                          redis_url=server.url if server else "", postgres=postgres,
                          broker_url=broker_url)
        cluster.redis_server = server
        cluster.env.update(env or {})
        monkeypatch.setenv("GRAFT_STORE", cluster.store_url)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        made.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in made:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(cluster.logs_tail())
        cluster.stop()
