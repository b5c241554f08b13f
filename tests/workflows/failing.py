"""Failures and retries. Counters are files in a folder passed as input, so they work the same
in-process and on cluster workers sharing that folder."""

import os

from sdk import dynamic, task, workflow
from workflows.basic import add


def bump(counter_dir: str, name: str) -> int:
    """Count one call (one byte appended; appends are atomic) and return the count so far."""
    os.makedirs(counter_dir, exist_ok=True)
    path = os.path.join(counter_dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
    return os.path.getsize(path)


def count(counter_dir: str, name: str) -> int:
    path = os.path.join(counter_dir, name)
    return os.path.getsize(path) if os.path.exists(path) else 0


@task
def explode(x: int) -> int:
    if x > 0:
        raise ValueError(f"cannot handle x={x}")
    return x


@workflow
def failing_wf(x: int = 1) -> int:
    """add -> explode -> add: the middle task raises ValueError, the last one never runs."""
    a = add(a=x, b=1)
    b = explode(x=a)
    return add(a=b, b=100)


@dynamic
def explode_some(xs: list[int]) -> list[int]:
    return [explode(x=x) for x in xs]


@workflow
def failing_dynamic_wf(xs: list[int] = [0, 0, 3]) -> list[int]:  # noqa: B006
    return explode_some(xs=xs)


@dynamic
def broken_body(n: int) -> int:
    if n > 1:
        raise KeyError(f"no entry for {n}")
    return n


@task(retries=2)
def flaky(counter_dir: str, fail_times: int) -> int:
    """Raises RuntimeError on its first `fail_times` calls, then returns the call number."""
    n = bump(counter_dir, "flaky")
    if n <= fail_times:
        raise RuntimeError(f"flaky failure {n}")
    return n


@workflow
def flaky_wf(counter_dir: str, fail_times: int = 2) -> int:
    return add(a=flaky(counter_dir=counter_dir, fail_times=fail_times), b=0)


@task
def killed_once(marks: str, mib: int) -> int:
    """Records `<pid> <working folder>` in `marks` on each call; on the first, also writes
    `mib` MiB into its working folder and SIGKILLs itself (no doing of graft's, far below
    its memory limit). Returns how many calls `marks` records."""
    import signal

    with open(marks, "a") as fh:
        fh.write(f"{os.getpid()} {os.getcwd()}\n")
    with open(marks) as fh:
        calls = len(fh.readlines())
    if calls == 1:
        with open("scratch.bin", "wb") as fh:
            fh.write(b"\xff" * (mib * 2**20))
        os.kill(os.getpid(), signal.SIGKILL)
    return calls


@workflow
def killed_once_wf(marks: str, mib: int = 8) -> int:
    return killed_once(marks=marks, mib=mib)
