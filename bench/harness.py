"""What the cluster benchmarks (bench/cluster.py, bench/scale.py) share: child processes
stopped by process group, the graft and Celery stacks on one Redis, memory sampling, timed and
checked runs, and the session that sets all this up and always tears it down.

A session (`run_session`) starts a throwaway `redis-server` unless given a Redis URL, flushes
the Redis database it uses before and after, makes a temporary folder for GRAFT_HOME, the
value store and the logs, exports the same settings to this process (which submits), and on
exit, Ctrl-C, SIGTERM or an error kills every process it started, by process group. Logs are
printed with their tails when something fails and kept with `keep_logs`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KEY_PREFIX = "graftbench"


class BenchError(Exception):
    pass


# ---- processes --------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Processes:
    """Child processes, each the leader of its own session, stopped by process group."""

    logdir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> Proc:
        log = self.logdir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def find(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def check_alive(self) -> None:
        for p in self.procs:
            if p.name.startswith("py-spy"):
                continue
            code = p.popen.poll()
            if code is not None:
                raise BenchError(f"{p.name} (pid {p.popen.pid}) exited with code {code}; "
                                 f"see {p.log}")

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop them all: SIGTERM to each group, then SIGKILL to whatever is left."""
        _stop(self.procs, grace_s)

    def stop_one(self, name: str, grace_s: float = 10.0) -> None:
        """Stop one process (and its group) and forget it; its log stays."""
        proc = self.find(name)
        _stop([proc], grace_s)
        self.procs.remove(proc)

    def dump_logs(self, lines: int = 40) -> None:
        print(f"\nlogs in {self.logdir}", file=sys.stderr)
        for p in self.procs:
            try:
                tail = p.log.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            print(f"---- {p.name} ({p.log}), last {len(tail)} lines ----", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)


def _stop(procs: list[Proc], grace_s: float) -> None:
    for p in procs:
        _signal_group(p.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
    # Leaders gone or not, take down anything left in their groups (prefork children).
    for p in procs:
        _signal_group(p.popen.pid, signal.SIGKILL)
        try:
            p.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print(f"warning: {p.name} (pid {p.popen.pid}) did not exit", file=sys.stderr)


def _signal_group(pid: int, sig: int) -> None:
    # The child leads its own session, so its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def start_profilers(procs: Processes, outdir: Path, rate: int) -> list[tuple[Proc, Path]]:
    """py-spy (raw collapsed stacks, busy samples only) on the graft scheduler and worker."""
    if shutil.which("py-spy") is None:
        raise BenchError("--profile needs py-spy on PATH (python -m pip install py-spy)")
    started = []
    for name, extra in (("graft-scheduler", []), ("graft-worker", ["--subprocesses"])):
        out = outdir / f"{name}.pyspy.txt"
        pid = str(procs.find(name).popen.pid)
        spy = procs.start(f"py-spy-{name}", ["py-spy", "record", "--pid", pid, "--format", "raw",
                                             "--rate", str(rate), "--nonblocking", "-o", str(out),
                                             *extra], dict(os.environ), ROOT)
        started.append((spy, out))
    time.sleep(1.0)  # let py-spy attach before the measured runs
    return started


def stop_profilers(spies: list[tuple[Proc, Path]], rate: int, top: int = 12) -> None:
    """Stop py-spy (SIGINT makes it write its file) and print where the busy time went."""
    for spy, _ in spies:
        if spy.popen.poll() is None:
            spy.popen.send_signal(signal.SIGINT)
    for spy, out in spies:
        try:
            spy.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"warning: {spy.name} did not stop; see {spy.log}", file=sys.stderr)
            continue
        if not out.exists():
            print(f"warning: {spy.name} wrote no profile; see {spy.log}", file=sys.stderr)
            continue
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        total = 0
        for line in out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n
            own[frames[-1]] = own.get(frames[-1], 0) + n
        print(f"\n{spy.name.removeprefix('py-spy-')}: {total / rate:.1f} s not idle "
              f"({total} samples at {rate} Hz; waits on sockets count); profile in {out}")
        ours = [(n, f) for f, n in inclusive.items()
                if any(p in f for p in ("(sdk/", "(scheduler/", "(worker/"))
                and "(sdk/cli.py" not in f and "Loop.run" not in f and "serve (" not in f]
        for label, items in (("inclusive, graft code", ours),
                             ("self", [(n, f) for f, n in own.items()])):
            print(f"  top {label}:")
            for n, frame in sorted(items, reverse=True)[:top]:
                print(f"    {100 * n / max(total, 1):5.1f}%  {frame}")


# ---- the stacks -------------------------------------------------------------------------------

def start_scheduler(procs: Processes, env: dict[str, str], name: str = "graft-scheduler",
                    args: tuple[str, ...] = ()) -> Proc:
    """`python -m sdk.cli scheduler *args`."""
    return procs.start(name, [sys.executable, "-m", "sdk.cli", "scheduler", *args], env, ROOT)


def start_graft_worker(procs: Processes, env: dict[str, str], concurrency: int,
                       tier: str = "256Mi", name: str = "graft-worker") -> Proc:
    return procs.start(name, [sys.executable, "-m", "sdk.cli", "worker", "--tier", tier,
                              "-c", str(concurrency)], env, ROOT)


def start_celery_worker(procs: Processes, env: dict[str, str], concurrency: int) -> Proc:
    """The baseline: `celery -A celery_baseline worker -Q bench -P prefork`, run from bench/."""
    return procs.start("celery-worker", [sys.executable, "-m", "celery", "-A", "celery_baseline",
                                         "worker", "-Q", "bench", "-c", str(concurrency),
                                         "-P", "prefork", "-E", "-n", f"bench-{os.getpid()}@%h",
                                         "--loglevel=INFO"], env, BENCH)


def start_stacks(procs: Processes, env: dict[str, str], concurrency: int,
                 celery: bool = True) -> None:
    """A graft scheduler, a 256Mi graft worker and (unless not `celery`) a Celery worker,
    `concurrency` each."""
    start_scheduler(procs, env)
    start_graft_worker(procs, env, concurrency)
    if celery:
        start_celery_worker(procs, env, concurrency)


# ---- measuring --------------------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    """VmRSS of `pid` in KiB (0 when /proc does not say)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds `pid` has used (its threads included, not its children)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """The resident memory of one process, sampled in a thread while a block runs."""

    def __init__(self, pid: int, interval_s: float = 0.02):
        self.pid, self.interval_s = pid, interval_s
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak_kib = max(self.peak_kib, self.rss_kib())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def shown(result: Any) -> str:
    """A result for an error message: long lists cut to their ends."""
    if isinstance(result, list) and len(result) >= 8:
        return f"list of {len(result)}: {result[:5]}...{result[-3:]}"
    return repr(result)


def timed(label: str, fn: Callable[[], Any], expected: Any) -> float:
    """Seconds `fn()` takes; BenchError when it returns anything but `expected`."""
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    if result != expected:
        raise BenchError(f"{label}: wrong result {shown(result)}")
    return elapsed


def graft_runner(entity: Any, inputs: dict[str, Any], procs: Processes, timeout_s: float,
                 poll_s: float, client_wait: bool = False,
                 client: Any = None) -> Callable[[], Any]:
    """A function that submits `entity(**inputs)` and returns its outputs, polling the status
    board every `poll_s` (or with `client_wait`, through `Execution.wait()` and its back-off).
    `client`: the stack's `Client` (default: the one this process's settings name)."""
    from sdk.remote.client import FINAL, Client

    client = client or Client()

    def run() -> Any:
        execution = client.submit(entity, **inputs)
        if client_wait:
            return execution.wait(timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        board = client.board
        checked = time.monotonic()
        while True:
            info = board.execution(execution.id)
            if info is not None and info["status"] in FINAL:
                return execution.outputs()
            if time.monotonic() > deadline:
                procs.check_alive()
                raise BenchError(f"graft execution {execution.id} not done after {timeout_s} s "
                                 f"({info})")
            if time.monotonic() - checked > 1.0:
                procs.check_alive()
                checked = time.monotonic()
            time.sleep(poll_s)

    return run


def stack_runners(clients: dict[str, Any], procs: Processes, timeout_s: float
                  ) -> Callable[..., Callable[[], Any]]:
    """`runner(stack, entity, **inputs)`: a `graft_runner` on the stack whose `Client` is
    `clients[stack]`; and before it is returned, every stack warmed up (a short chain and a
    fan-out of 10, which also wait for its workers to come up)."""
    import bench_workflows as wf

    def runner(stack: str, entity: Any, **inputs: Any) -> Callable[[], Any]:
        return graft_runner(entity, inputs, procs, timeout_s, 0.005, client=clients[stack])

    print("warming up (the first runs also wait for the workers to come up)...", flush=True)
    for stack in clients:
        timed(f"{stack} warm-up chain", runner(stack, wf.chain_warmup_wf),
              wf.WARMUP_CHAIN_NODES)
        timed(f"{stack} warm-up fan-out", runner(stack, wf.fan_wf, n=10), list(range(1, 11)))
    return runner


def celery_get(result: Any, procs: Processes, timeout_s: float) -> Any:
    from celery.exceptions import TimeoutError as CeleryTimeout

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return result.get(timeout=1.0, interval=0.005)
        except CeleryTimeout:
            procs.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"celery result {result.id} not ready after {timeout_s} s"
                                 ) from None


def celery_group_runner(n: int, procs: Processes, timeout_s: float) -> Callable[[], Any]:
    """`group(noop.s(i) for i in range(n)).apply_async().get()`, built inside the run."""
    from celery import group
    from celery_baseline import noop

    def run() -> Any:
        return celery_get(group(noop.s(i) for i in range(n)).apply_async(), procs, timeout_s)

    return run


# ---- the session ------------------------------------------------------------------------------

def redis_db(server_url: str, db: int) -> str:
    """`server_url` pointed at database `db` (any database number in it replaced)."""
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


def flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def environment(tmp: Path, broker_url: str, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    home = tmp / "home"
    env.update({
        "GRAFT_BROKER_URL": broker_url,
        "GRAFT_HOME": str(home),
        "GRAFT_STORE": str(home / "store"),
        "GRAFT_CACHE_DIR": str(tmp / "cache"),
        "GRAFT_KEY_PREFIX": KEY_PREFIX,
        "GRAFT_LOCAL_CACHE": "false",
        "BENCH_BROKER_URL": broker_url,
        "PYTHONPATH": os.pathsep.join(p for p in (str(BENCH), str(ROOT),
                                                  os.environ.get("PYTHONPATH")) if p),
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("GRAFT_BOARD_URL", None)
    if database_url:
        env["GRAFT_DATABASE_URL"] = database_url
    else:
        env.pop("GRAFT_DATABASE_URL", None)
    return env


def state_label(database_url: str | None) -> str:
    if not database_url:
        return "SQLite"
    return "PostgreSQL" if database_url.startswith("postgres") else database_url.split(":", 1)[0]


@dataclass
class Session:
    procs: Processes
    env: dict[str, str]  # for the stacks' processes
    broker_url: str  # the Redis database both stacks use
    tmp: Path
    logdir: Path


def run_session(body: Callable[[Session], None], *, redis_url: str | None, redis_db_no: int,
                database_url: str | None, keep_logs: bool) -> int:
    """Run `body` in a session (see the module's docstring); returns the exit code: 0, 1 on
    an error (the logs' tails printed), 130 when interrupted."""
    server = None
    if redis_url is None:  # a throwaway redis-server of our own, stopped at exit
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import RedisServer

        server = RedisServer().start()
        redis_url = server.url
    broker_url = redis_db(redis_url, redis_db_no)
    tmp = Path(tempfile.mkdtemp(prefix="graft-bench-"))
    logdir = tmp / "logs"
    logdir.mkdir()
    env = environment(tmp, broker_url, database_url)
    # This process submits too: the same settings as the stacks, and bench/ importable.
    for key in ("GRAFT_BROKER_URL", "GRAFT_HOME", "GRAFT_STORE", "GRAFT_CACHE_DIR",
                "GRAFT_KEY_PREFIX", "GRAFT_LOCAL_CACHE", "BENCH_BROKER_URL"):
        os.environ[key] = env[key]
    os.environ.pop("GRAFT_BOARD_URL", None)
    for path in (str(ROOT), str(BENCH)):
        if path not in sys.path:
            sys.path.insert(0, path)

    procs = Processes(logdir)
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    failed, interrupted = True, False
    try:
        flush(broker_url)
        print(f"Redis {broker_url} flushed; logs in {logdir}", flush=True)
        body(Session(procs, env, broker_url, tmp, logdir))
        failed = False
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the stacks", file=sys.stderr)
        interrupted = True
        return 130
    except Exception as exc:
        print(f"\nbench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        # No second Ctrl-C or SIGTERM may cut the clean-up short and leave processes behind.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        if failed and not interrupted:
            procs.dump_logs()
        try:
            flush(broker_url)
        except Exception as exc:  # Redis gone: nothing left to clean
            print(f"warning: could not flush {broker_url}: {exc}", file=sys.stderr)
        if server is not None:
            server.stop()
        if failed or keep_logs:
            print(f"logs kept in {logdir}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
