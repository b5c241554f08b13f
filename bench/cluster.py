"""Cluster benchmark: graft on a real stack against raw Celery canvas, same Redis, same workers.

Two shapes, run through both systems in one session:

* A, chain: 200 no-op tasks in sequence. graft: the static workflow `bench_workflows.chain_wf`
  (a loop of `noop` calls in the body). Celery: `chain(noop.s(0), noop.s(), ...)`, 200 tasks,
  `.apply_async().get()`.
* B, fan-out: 1,000 no-op tasks side by side. graft: the dynamic `fan(n)` inside
  `bench_workflows.fan_wf`. Celery: `group(noop.s(i) for i in range(n)).apply_async().get()`.
* C, map: 10,000 no-op items. graft: `map_task(noop)(x=xs)` in `bench_workflows.map_wf`, one
  node in the spec. Celery: the same `group` of 10,000. The report also gives the map spec's
  size per item (against the sub-graph a `@dynamic` generates for the same fan-out) and the
  graft scheduler's resident memory, sampled every 20 ms, before and at its peak during the
  map runs.

Both stacks run at once on the same Redis database (default 9, flushed before and after): the
graft scheduler (`python -m sdk.cli scheduler`, SQLite state in a temporary GRAFT_HOME unless
`--database-url` is given) with one `python -m sdk.cli worker --tier 256Mi -c C`, and one
`celery -A celery_baseline worker -Q bench -c C -P prefork` with Redis as result backend. After
one small warm-up run on each, graft and Celery runs alternate (who goes first alternates too),
`--repeats` times per shape. A run's wall time goes from submit (canvas or graph building
included) to the outputs in hand; every result is checked. The graft side waits by polling the
status board every `--poll-ms` (default 5 ms); `--client-wait` uses `Execution.wait()` instead,
whose back-off (up to 0.5 s between polls) then shows in the figures.

    python bench/cluster.py                 # repeats 5, fan-out 1,000, map 10,000 (~15 min)
    python bench/cluster.py --quick         # repeats 2, fan-out 300, map 1,000: a smoke run
    python bench/cluster.py --only map --repeats 3
    python bench/cluster.py --database-url postgresql+psycopg://user:pw@host/db

All processes start in their own sessions and are killed by process group on exit, Ctrl-C or
error; their logs go to a temporary folder, printed (with their tails) when something fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CHAIN_NODES = 200


class BenchError(Exception):
    pass


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
        for p in self.procs:
            _signal_group(p.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Leaders gone or not, take down anything left in their groups (prefork children).
        for p in self.procs:
            _signal_group(p.popen.pid, signal.SIGKILL)
            try:
                p.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print(f"warning: {p.name} (pid {p.popen.pid}) did not exit", file=sys.stderr)

    def dump_logs(self, lines: int = 40) -> None:
        print(f"\nlogs in {self.logdir}", file=sys.stderr)
        for p in self.procs:
            try:
                tail = p.log.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            print(f"---- {p.name} ({p.log}), last {len(tail)} lines ----", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)


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


def _signal_group(pid: int, sig: int) -> None:
    # The child leads its own session, so its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# ---- timing -----------------------------------------------------------------------------------

@dataclass
class Shape:
    name: str
    nodes: int
    graft: Callable[[], Any]
    celery: Callable[[], Any]
    expected: Any
    times: dict[str, list[float]] = field(default_factory=lambda: {"graft": [], "celery": []})


class MemorySampler:
    """The resident memory of one process, sampled in a thread while a block runs."""

    def __init__(self, pid: int, interval_s: float = 0.02):
        self.pid, self.interval_s = pid, interval_s
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

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


def spec_sizes(items: int) -> tuple[int, int]:
    """Bytes of the map workflow's spec, and of the sub-graph a @dynamic generates for the
    same number of nodes (both as the client stores them: JSON)."""
    import bench_workflows as wf

    from sdk.values.store import MemoryStore

    sub = wf.fan.expand({"n": items}, MemoryStore(), None)
    return len(wf.map_wf.compile().dumps().encode()), len(sub.dumps().encode())


def timed(label: str, fn: Callable[[], Any], expected: Any) -> float:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    if result != expected:
        shown = result if not isinstance(result, list) or len(result) < 8 else \
            f"list of {len(result)}: {result[:5]}...{result[-3:]}"
        raise BenchError(f"{label}: wrong result {shown!r}")
    return elapsed


def graft_runner(entity: Any, inputs: dict[str, Any], procs: Processes, timeout_s: float,
                 poll_s: float, client_wait: bool) -> Callable[[], Any]:
    from sdk.remote.client import FINAL, Client

    client = Client()

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


def celery_chain_runner(nodes: int, procs: Processes, timeout_s: float) -> Callable[[], Any]:
    from celery import chain
    from celery_baseline import noop

    def run() -> Any:
        canvas = chain(noop.s(0), *(noop.s() for _ in range(nodes - 1)))
        return celery_get(canvas.apply_async(), procs, timeout_s)

    return run


def celery_group_runner(n: int, procs: Processes, timeout_s: float) -> Callable[[], Any]:
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
        "GRAFT_KEY_PREFIX": "graftbench",
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


def start_stacks(procs: Processes, env: dict[str, str], concurrency: int) -> None:
    py = sys.executable
    c = str(concurrency)
    procs.start("graft-scheduler", [py, "-m", "sdk.cli", "scheduler"], env, ROOT)
    procs.start("graft-worker", [py, "-m", "sdk.cli", "worker", "--tier", "256Mi", "-c", c],
                env, ROOT)
    procs.start("celery-worker", [py, "-m", "celery", "-A", "celery_baseline", "worker",
                                  "-Q", "bench", "-c", c, "-P", "prefork", "-E",
                                  "-n", f"bench-{os.getpid()}@%h", "--loglevel=INFO"],
                env, BENCH)


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def report(shapes: list[Shape], args: argparse.Namespace, db_label: str) -> None:
    print()
    print(f"graft vs raw Celery canvas: concurrency {args.concurrency}, {args.repeats} repeats, "
          f"state {db_label}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    header = (f"{'shape':<24} {'nodes':>6} {'graft ms':>10} {'celery ms':>10} "
              f"{'graft/celery':>13} {'overhead ms/node':>17}")
    print(header)
    print("-" * len(header))
    for s in shapes:
        g, c = median_ms(s.times["graft"]), median_ms(s.times["celery"])
        print(f"{s.name:<24} {s.nodes:>6} {g:>10.0f} {c:>10.0f} {g / c:>12.2f}x "
              f"{(g - c) / s.nodes:>17.2f}")
    print()
    print("runs (ms), in order:")
    for s in shapes:
        for system in ("graft", "celery"):
            runs = " ".join(f"{t * 1000:.0f}" for t in s.times[system])
            print(f"  {s.name:<24} {system:<7} {runs}")
    print("medians are the figures; the machine is shared and noisy, so read the ratios.")


def report_map(items: int, memory: dict[str, int]) -> None:
    map_bytes, dynamic_bytes = spec_sizes(items)
    print(f"map spec: {map_bytes} bytes whatever the items ({map_bytes / items:.3f} bytes per "
          f"item at {items}); a @dynamic's sub-graph of {items} nodes: {dynamic_bytes} bytes "
          f"({dynamic_bytes / items:.0f} per node)")
    if "peak_kib" in memory:
        print(f"graft scheduler resident memory: {memory['before_kib'] / 1024:.0f} MiB before "
              f"the runs, {memory['peak_kib'] / 1024:.0f} MiB at its peak during the map runs")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=2,
                        help="worker processes, the same for graft and Celery (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per shape (default 5)")
    parser.add_argument("--fanout", type=int, default=None,
                        help="nodes in the fan-out (default 1000)")
    parser.add_argument("--map-items", type=int, default=None,
                        help="items in the map (default 10000)")
    parser.add_argument("--quick", action="store_true", help="repeats 2, fan-out 300, map 1000")
    parser.add_argument("--only", choices=("chain", "fan", "map"), default=None,
                        help="run one shape only")
    parser.add_argument("--redis-url", default=None,
                        help="Redis server (default: a throwaway redis-server of its own; a "
                             "database number in it is replaced by --redis-db)")
    parser.add_argument("--redis-db", type=int, default=9,
                        help="Redis database for both stacks; flushed before and after (default 9)")
    parser.add_argument("--database-url", default=None,
                        help="graft scheduler state (default: SQLite in the temporary GRAFT_HOME)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--poll-ms", type=float, default=5.0,
                        help="graft: status-board poll interval while waiting (default 5 ms)")
    parser.add_argument("--client-wait", action="store_true",
                        help="graft: wait with Execution.wait() (its back-off included)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the log folder")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the graft scheduler and worker during the measured runs "
                             "(skews their times; the profiles stay in the log folder)")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples/s")
    args = parser.parse_args()
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.fanout = args.fanout or (300 if args.quick else 1000)
    args.map_items = args.map_items or (1000 if args.quick else 10_000)
    if min(args.concurrency, args.repeats, args.fanout, args.map_items) < 1:
        parser.error("--concurrency, --repeats, --fanout and --map-items must be at least 1")
    return args


def measure(args: argparse.Namespace, procs: Processes, logdir: Path,
            memory: dict[str, int]) -> list[Shape]:
    """Warm both stacks up, then alternate graft and Celery runs; return the shapes timed.
    `memory` gets the scheduler's resident KiB before the runs and at its peak during the
    map's graft runs."""
    import bench_workflows as wf

    if wf.CHAIN_NODES != CHAIN_NODES:
        raise BenchError(f"bench_workflows.CHAIN_NODES is {wf.CHAIN_NODES}, not {CHAIN_NODES}")

    def graft(entity: Any, **inputs: Any) -> Callable[[], Any]:
        return graft_runner(entity, inputs, procs, args.timeout, args.poll_ms / 1000,
                            args.client_wait)

    print("warming up (the first runs also wait for the workers to come up)...", flush=True)
    start = time.perf_counter()
    w, n = wf.WARMUP_CHAIN_NODES, 10
    timed("graft warm-up chain", graft(wf.chain_warmup_wf), w)
    timed("graft warm-up fan-out", graft(wf.fan_wf, n=n), list(range(1, n + 1)))
    timed("celery warm-up chain", celery_chain_runner(w, procs, args.timeout), w)
    timed("celery warm-up group", celery_group_runner(n, procs, args.timeout),
          list(range(1, n + 1)))
    print(f"  stacks ready after {time.perf_counter() - start:.1f} s", flush=True)

    fanout, items = args.fanout, args.map_items
    shapes = {
        "chain": Shape(f"A chain x{CHAIN_NODES}", CHAIN_NODES, graft(wf.chain_wf),
                       celery_chain_runner(CHAIN_NODES, procs, args.timeout), CHAIN_NODES),
        "fan": Shape(f"B dynamic fan-out x{fanout}", fanout, graft(wf.fan_wf, n=fanout),
                     celery_group_runner(fanout, procs, args.timeout),
                     list(range(1, fanout + 1))),
        "map": Shape(f"C map_task x{items}", items, graft(wf.map_wf, xs=list(range(items))),
                     celery_group_runner(items, procs, args.timeout),
                     list(range(1, items + 1))),
    }
    chosen = [shapes[args.only]] if args.only else list(shapes.values())
    sampler = MemorySampler(procs.find("graft-scheduler").popen.pid)
    memory["before_kib"] = sampler.rss_kib()
    spies = start_profilers(procs, logdir, args.profile_rate) if args.profile else []
    for rep in range(args.repeats):
        order = ("graft", "celery") if rep % 2 == 0 else ("celery", "graft")
        for s in chosen:
            for system in order:
                fn = s.graft if system == "graft" else s.celery
                sampling = system == "graft" and s is shapes["map"]
                with sampler if sampling else contextlib.nullcontext():
                    t = timed(f"{system} {s.name} run {rep + 1}", fn, s.expected)
                if sampling:
                    memory["peak_kib"] = max(memory.get("peak_kib", 0), sampler.peak_kib)
                    sampler = MemorySampler(sampler.pid)
                s.times[system].append(t)
                print(f"  run {rep + 1}/{args.repeats} {s.name:<24} {system:<7} "
                      f"{t * 1000:8.0f} ms", flush=True)
    procs.check_alive()
    if spies:
        stop_profilers(spies, args.profile_rate)
    return chosen


def main() -> int:
    args = parse_args()
    if args.redis_url is None:  # a throwaway redis-server of our own, stopped at exit
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import RedisServer

        args.redis_url = RedisServer().start().url
    broker_url = redis_db(args.redis_url, args.redis_db)
    tmp = Path(tempfile.mkdtemp(prefix="graft-bench-"))
    logdir = tmp / "logs"
    logdir.mkdir()
    env = environment(tmp, broker_url, args.database_url)
    # This process submits too: the same settings as the stacks, and bench/ importable.
    for key in ("GRAFT_BROKER_URL", "GRAFT_HOME", "GRAFT_STORE", "GRAFT_CACHE_DIR",
                "GRAFT_KEY_PREFIX", "GRAFT_LOCAL_CACHE", "BENCH_BROKER_URL"):
        os.environ[key] = env[key]
    os.environ.pop("GRAFT_BOARD_URL", None)
    for path in (str(ROOT), str(BENCH)):
        if path not in sys.path:
            sys.path.insert(0, path)
    db_label = "SQLite" if not args.database_url else \
        "PostgreSQL" if args.database_url.startswith("postgres") else \
        args.database_url.split(":", 1)[0]

    procs = Processes(logdir)
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    failed, interrupted = True, False
    try:
        flush(broker_url)
        print(f"Redis {broker_url} flushed; logs in {logdir}", flush=True)
        start_stacks(procs, env, args.concurrency)
        memory: dict[str, int] = {}
        shapes = measure(args, procs, logdir, memory)
        report(shapes, args, db_label)
        if args.only in (None, "map"):
            report_map(args.map_items, memory)
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
        if failed or args.keep_logs or args.profile:
            print(f"logs kept in {logdir}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
