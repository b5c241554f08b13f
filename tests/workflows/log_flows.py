"""Workflows whose nodes write while they run, for `graft logs --follow`
(tests/integration/test_logs_cluster.py)."""

from __future__ import annotations

import time
from pathlib import Path

from sdk import task, workflow


@task
def talk(name: str, n: int, pause: float) -> int:
    """Prints `name i` n times, one every `pause` s, half-lines included."""
    for i in range(n):
        print(f"{name} {i}", end="", flush=True)
        time.sleep(pause / 2)
        print(" said", flush=True)
        time.sleep(pause / 2)
    return n


@task(retries=1)
def flaky_talk(marker_dir: str, pause: float) -> int:
    """Its first attempt prints, waits 2 x `pause` and fails; its second prints and succeeds."""
    marker = Path(marker_dir) / "tried"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("1")
        print("first try begins", flush=True)
        time.sleep(2 * pause)
        print("first try ends", flush=True)
        raise RuntimeError("the first try fails")
    print("second try", flush=True)
    return 2


@task
def silent() -> int:
    return 0


@task
def add_four(a: int, b: int, c: int, d: int) -> int:
    return a + b + c + d


@workflow
def talkers_wf(marker_dir: str, pause: float = 0.6) -> int:
    """alpha and beta talk at once, flaky_talk is retried once, silent says nothing: 10."""
    return add_four(a=talk(name="alpha", n=4, pause=pause),
                    b=talk(name="beta", n=4, pause=pause),
                    c=flaky_talk(marker_dir=marker_dir, pause=pause), d=silent())
