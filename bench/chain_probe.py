"""Where one link of a chain goes: timestamps from every graft process, then a breakdown.

A one-off measuring aid, not part of graft. With `GRAFT_PROBE=<folder>` in the environment of
a graft stack whose Python runs `install()` at start-up (a `.pth` file in its site-packages:
`import os, sys; os.environ.get("GRAFT_PROBE") and (sys.path.append("<repo>/bench"),
__import__("chain_probe").install())`), each process appends `time<TAB>event` lines to
`<folder>/<pid>.tsv` at these points:

    scheduler  read      a blocking read of the control stream returned entries
               handle0   `Scheduler.handle` called            handle1  it returned
               commit    `Sender.committed` (the transaction committed)
               send0     `CeleryDispatcher.send` called       send1    it returned
    worker     pool      the worker's main process hands a task to its pool
               claim     the pool process claims the attempt (the task body starts)
               run0      the request goes to the runner       run1     its reply is back
               report0   the report is published              report1  it was
    runner     task0     `run_attempt` called                 task1    it returned

Run graft beside Dask only (`--baselines dask`): a Celery baseline worker would write `pool`
events too. `python bench/chain_probe.py <folder>` orders them and prints, per link (node i's
report sent -> node i+1's report sent), the median time of each step.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import itertools
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

_OUT: list[Any] = []


def _mark(event: str) -> None:
    if not _OUT:
        folder = Path(os.environ["GRAFT_PROBE"])
        folder.mkdir(parents=True, exist_ok=True)
        _OUT.append(open(folder / f"{os.getpid()}.tsv", "a", buffering=1))  # noqa: SIM115
    elif _OUT[0].name != str(Path(os.environ["GRAFT_PROBE"]) / f"{os.getpid()}.tsv"):
        _OUT[0] = open(Path(os.environ["GRAFT_PROBE"]) / f"{os.getpid()}.tsv", "a",  # noqa: SIM115
                       buffering=1)  # a forked pool process writes a file of its own
    _OUT[0].write(f"{time.time():.6f}\t{event}\n")


def _around(owner: Any, name: str, before: str | None, after: str | None,
            when: Callable[[Any], bool] = lambda result: True) -> None:
    original = getattr(owner, name)
    if getattr(original, "_probed", False):  # a module found twice is patched once
        return

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before:
            _mark(before)
        result = original(*args, **kwargs)
        if after and when(result):
            _mark(after)
        return result

    wrapped._probed = True  # type: ignore[attr-defined]
    setattr(owner, name, wrapped)


def _patch(module: Any) -> None:
    name = module.__name__
    if name == "sdk.wire.control":
        _around(module.ControlChannel, "read", None, "read", when=bool)
    elif name == "scheduler.service":
        _around(module.Scheduler, "handle", "handle0", "handle1")
    elif name == "scheduler.sending":
        _around(module.Sender, "committed", "commit", None)
    elif name == "scheduler.celery_dispatch":
        _around(module.CeleryDispatcher, "send", "send0", "send1")
    elif name == "celery.concurrency.base":
        _around(module.BasePool, "apply_async", "pool", None)
    elif name == "sdk.wire.leases":
        _around(module.Leases, "start", "claim", None)
        _around(module.Leases, "report", "report0", "report1")
    elif name == "worker.supervisor":
        _around(module.Runner, "run", "run0", "run1")
    elif name == "worker.attempt":
        _around(module, "run_attempt", "task0", "task1")


_WATCHED = {"sdk.wire.control", "scheduler.service", "scheduler.sending",
            "scheduler.celery_dispatch", "celery.concurrency.base", "sdk.wire.leases",
            "worker.supervisor", "worker.attempt"}


class _Finder(importlib.abc.MetaPathFinder):
    """Patches each watched module right after it runs, before anyone imports from it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _WATCHED:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    sys.meta_path.insert(0, _Finder())


# ---- the breakdown ----------------------------------------------------------------------------

STEPS = [
    ("report sent -> scheduler read returns", "report0", "read"),
    ("read -> handle starts (decode, checks)", "read", "handle0"),
    ("handle: apply + commit", "handle0", "commit"),
    ("commit -> send starts (board, select)", "commit", "send0"),
    ("send (Celery publish)", "send0", "send1"),
    ("send returns -> handle returns", "send1", "handle1"),
    ("sent -> worker hands it to its pool", "send1", "pool"),
    ("pool -> task body claims it", "pool", "claim"),
    ("claim -> request to runner", "claim", "run0"),
    ("request -> runner starts the task", "run0", "task0"),
    ("run_attempt (load inputs, run, store outputs)", "task0", "task1"),
    ("runner reply -> pool process has it", "task1", "run1"),
    ("reply -> report sent", "run1", "report0"),
]


def links(events: list[tuple[float, str]]) -> list[dict[str, float]]:
    """Each link from one `report0` to the next: the first time each event follows it."""
    ordered = sorted(events)
    starts = [i for i, (_, e) in enumerate(ordered) if e == "report0"]
    found = []
    for a, b in itertools.pairwise(starts):
        seen: dict[str, float] = {"report0": ordered[a][0]}
        for t, e in ordered[a + 1:b + 1]:
            seen.setdefault(e, t)
        found.append(seen)
    return found


def main(folder: str) -> None:
    events = []
    for path in Path(folder).glob("*.tsv"):
        for line in path.read_text().splitlines():
            t, _, e = line.partition("\t")
            events.append((float(t), e))
    found = [s for s in links(events) if "read" in s]
    ordered = sorted(t for t, e in events if e == "report0")
    whole = [b - a for a, b in itertools.pairwise(ordered)]
    print(f"{len(found)} links; one link (report to next report): median "
          f"{statistics.median(whole) * 1e3:.2f} ms")
    for label, a, b in STEPS:
        gaps = [s[b] - s[a] for s in found if a in s and b in s and s[b] >= s[a]]
        if gaps:
            print(f"  {label:<48} {statistics.median(gaps) * 1e3:7.3f} ms  (n={len(gaps)})")


if __name__ == "__main__":
    main(sys.argv[1])
