"""The kernel's counts of the processes its out-of-memory killer ended: what tells a runner
the OOM killer ended from one killed by anything else (`sdk.model.failures.KillEvidence`).

The pool process reads them before each attempt and again once its runner died; a count
that rose means the kernel killed a process meanwhile. Each is read where the kernel has it:

- the worker's cgroup (the runner is in its pool process's): `oom_kill` in memory.events
  (cgroup v2, which counts the cgroups below too) or memory.oom_control (cgroup v1, Linux
  4.13+), found through /proc/self/cgroup and /proc/self/mountinfo;
- else the machine: `oom_kill` in /proc/vmstat (Linux 4.13+).

The machine's count is read only where the worker's cgroup has none: it costs ~25 µs to read
(the kernel writes out every counter), the cgroup's ~1 µs, and this runs at every attempt.
The kernel counts a kill before it sends the SIGKILL, so a runner seen dead is counted.
"""

from __future__ import annotations

import functools
import os

VMSTAT = "/proc/vmstat"


def counter_files(cgroups: str, mountinfo: str) -> list[str]:
    """The files that count the OOM kills of the cgroups `cgroups` names (the text of
    /proc/<pid>/cgroup), under the mounts of `mountinfo` (/proc/<pid>/mountinfo's):
    memory.events of its cgroup v2, memory.oom_control of its cgroup v1 memory controller."""
    mounts = [line.split() for line in mountinfo.splitlines()]
    found = []
    for line in cgroups.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        v2 = hierarchy == "0" and controllers == ""
        if not path.startswith("/") or not (v2 or "memory" in controllers.split(",")):
            continue
        for fields in mounts:
            if "-" not in fields[6:-2]:
                continue
            fstype, options = fields[fields.index("-", 6) + 1], fields[-1].split(",")
            wanted = fstype == "cgroup2" if v2 else fstype == "cgroup" and "memory" in options
            if not wanted:
                continue
            root, point = fields[3], fields[4]
            inside = os.path.relpath(path, root) if path.startswith(root) else path
            name = "memory.events" if v2 else "memory.oom_control"
            found.append(os.path.normpath(os.path.join(point, inside.lstrip("/"), name)))
    return found


@functools.cache
def _counters() -> tuple[tuple[int, ...], int | None]:
    """This process's counter files, opened once and kept open (a count is then read again
    in a microsecond or two): those of its cgroup, and /proc/vmstat (None: missing)."""
    try:
        with open("/proc/self/cgroup") as fh, open("/proc/self/mountinfo") as mi:
            files = counter_files(fh.read(), mi.read())
    except OSError:
        files = []
    return tuple(fd for fd in map(_open, files) if fd is not None), _open(VMSTAT)


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None  # the root cgroup has no memory.events; old kernels have no count


def parse(text: bytes) -> int | None:
    """The count of an `oom_kill N` line (None: there is none)."""
    at = (b"\n" + text).find(b"\noom_kill ")
    if at < 0:
        return None
    try:
        return int(text[at:].split(b"\n", 1)[0].split()[1])
    except (ValueError, IndexError):
        return None


def _count(fd: int) -> int | None:
    try:
        return parse(os.pread(fd, 1 << 16, 0))
    except OSError:
        return None


def read() -> tuple[int | None, int | None]:
    """The OOM kills counted so far: by the worker's cgroup (None: no count of it could be
    read), else by the machine (None: not read, or the kernel has no count)."""
    cgroup_fds, vmstat_fd = _counters()
    counts = [n for n in map(_count, cgroup_fds) if n is not None]
    if counts:
        return sum(counts), None  # the machine's count is not needed, and 20 times dearer
    return None, None if vmstat_fd is None else _count(vmstat_fd)


def since(before: tuple[int | None, int | None]) -> tuple[int | None, int | None]:
    """How many OOM kills each count gained since `before` (from `read`): None where either
    reading is missing."""
    cgroup, machine = (None if b is None or a is None else max(0, a - b)
                       for b, a in zip(before, read()))
    return cgroup, machine
