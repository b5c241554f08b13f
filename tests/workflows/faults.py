"""Workflows for the fault tests: tasks that say which process ran them, so a test can kill
exactly that worker, and side effects a forged message must never cause."""

import functools
import os
import time
import typing

from sdk import Resources, dynamic, map_task, task, workflow


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return int(fh.read().rsplit(b")", 1)[1].split()[1])


@task
def mark_and_nap(path: str, seconds: float) -> int:
    """Append `<pid> <pool process pid> <worker pid>` to `path` (one line per run: the task
    runs in a runner process, started by a pool process of the worker), wait, and return how
    many runs `path` records."""
    pool = os.getppid()
    with open(path, "a") as fh:
        fh.write(f"{os.getpid()} {pool} {_parent_of(pool)}\n")
    time.sleep(seconds)
    with open(path) as fh:
        return len(fh.readlines())


@workflow
def marked(path: str, seconds: float) -> int:
    return mark_and_nap(path=path, seconds=seconds)


@task
def bump(x: int, delay: float) -> int:
    time.sleep(delay)
    return x + 1


@dynamic
def bumps(n: int, delay: float) -> typing.List[int]:
    return [bump(x=i, delay=delay) for i in range(n)]


@task
def add_all(xs: typing.List[int]) -> int:
    return sum(xs)


@workflow
def fan_out(n: int, delay: float) -> int:
    """n parallel nodes, each returning i + 1: the sum is n (n + 1) / 2."""
    return add_all(xs=bumps(n=n, delay=delay))


@workflow
def chain3(x: int, delay: float) -> int:
    return bump(x=bump(x=bump(x=x, delay=delay), delay=delay), delay=delay)


# ---- execution controls: timeouts, memory limits, cancellation, processes of their own ----


@task(timeout=2)
def hangs(path: str) -> int:
    """Marks its start, then sleeps far past its timeout."""
    with open(path, "a") as fh:
        fh.write("started\n")
    time.sleep(600)
    return 0


@workflow
def hanging(path: str) -> int:
    return hangs(path=path)


@task
def quick(x: int) -> int:
    return x + 1


@workflow
def quick_wf(x: int) -> int:
    return quick(x=x)


@task(limits=Resources(mem="200Mi"))
def allocate(mib: int) -> int:
    """Holds `mib` MiB of touched memory for a moment."""
    blocks = [bytearray(2**20) for _ in range(mib)]
    time.sleep(0.3)
    return len(blocks)


@workflow
def allocating(mib: int) -> int:
    return allocate(mib=mib)


@task
def in_parallel(n: int) -> typing.List[int]:
    """What scikit-learn's n_jobs and joblib need: processes of the task's own."""
    from multiprocessing import Pool

    with Pool(2) as pool:
        return pool.map(abs, range(-n, 0))


@workflow
def parallel(n: int) -> typing.List[int]:
    return in_parallel(n=n)


@task
def slow_mark(path: str, tag: str, seconds: float) -> str:
    """Marks its start, sleeps, then marks its end: the end must never appear once the
    execution is cancelled."""
    with open(path, "a") as fh:
        fh.write(f"start {tag}\n")
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write(f"end {tag}\n")
    return tag


@workflow
def cancellable(path: str, seconds: float) -> typing.Tuple[str, typing.List[str], str]:
    """One slow node running, a map whose items wait their turn (concurrency 1), and a
    dynamic whose children run: all of it stops on a cancel."""
    first = slow_mark(path=path, tag="first", seconds=seconds)
    items = map_task(functools.partial(slow_mark, path=path, seconds=seconds),
                     concurrency=1)(tag=["item-0", "item-1", "item-2"])
    return first, items, fan_marks(path=path, seconds=seconds)


@dynamic
def fan_marks(path: str, seconds: float) -> str:
    return slow_mark(path=path, tag="child", seconds=seconds)


@task
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@workflow
def sleepy_wf(seconds: float) -> float:
    return sleepy(seconds=seconds)


@task
def nap_then_mark(path: str, seconds: float) -> float:
    """Sleeps, then appends "end" to path: the mark never appears when it is stopped."""
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write("end\n")
    return seconds


@workflow(timeout=3)
def bounded(path: str, first: float, second: float) -> float:
    """A workflow with a timeout of 3 s: two naps in a row."""
    nap_then_mark(path=path, seconds=first) >> (last := nap_then_mark(path=path, seconds=second))
    return last


@task
def leave_orphan() -> int:
    """Start a process that outlives its parent shell (a daemon left behind); its pid."""
    import subprocess

    out = subprocess.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


@workflow
def orphan_wf() -> int:
    return leave_orphan()


@task
def chatty(n: int, pause: float) -> int:
    """Prints n lines (one every `pause` s), writes to stderr, logs a record, and has a
    child process print too."""
    import subprocess
    import sys

    from sdk import current_context

    for i in range(n):
        print(f"line {i}", flush=True)
        time.sleep(pause)
    print("to stderr", file=sys.stderr, flush=True)
    subprocess.run(["echo", "from a child process"], check=True)
    current_context().logging.info("counted %d", n)
    return n


@workflow
def chatty_wf(n: int, pause: float) -> int:
    return chatty(n=n, pause=pause)
