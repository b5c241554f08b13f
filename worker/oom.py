"""The kernel's counts of the processes its out-of-memory killer ended: what tells a runner
the OOM killer ended from one killed by anything else (`sdk.model.failures.KillEvidence`).

The pool process reads them before each attempt and again once its runner died; a count
that rose means the kernel killed a process meanwhile. Each is read where the kernel has it:

- the worker's cgroup (the runner is in its pool process's): `oom_kill` in memory.events
  (cgroup v2, which counts the cgroups below too) or memory.oom_control (cgroup v1, Linux
  4.13+), found through /proc/self/cgroup and /proc/self/mountinfo;
- the machine: `oom_kill` in /proc/vmstat (Linux 4.13+).

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
def _cgroup_files() -> tuple[str, ...]:
    """This process's files that count OOM kills (those that exist; the root cgroup has
    none)."""
    try:
        with open("/proc/self/cgroup") as fh, open("/proc/self/mountinfo") as mi:
            files = counter_files(fh.read(), mi.read())
    except OSError:
        return ()
    return tuple(f for f in files if os.path.exists(f))


def _oom_kill(path: str) -> int | None:
    """The `oom_kill N` line of a counter file, or None where it is missing."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    for line in data.splitlines():
        if line.startswith(b"oom_kill "):
            try:
                return int(line.split()[1])
            except (ValueError, IndexError):
                return None
    return None


def read() -> tuple[int | None, int | None]:
    """The OOM kills counted so far: by the worker's cgroup (None: no count of it could be
    read) and by the machine (None: the kernel has no count)."""
    counts = [n for n in (_oom_kill(f) for f in _cgroup_files()) if n is not None]
    return (sum(counts) if counts else None), _oom_kill(VMSTAT)


def since(before: tuple[int | None, int | None]) -> tuple[int | None, int | None]:
    """How many OOM kills each count gained since `before` (from `read`): None where either
    reading is missing."""
    cgroup, machine = (None if b is None or a is None else max(0, a - b)
                       for b, a in zip(before, read()))
    return cgroup, machine
