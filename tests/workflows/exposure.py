"""What a task could reach of the cluster's credentials, and a cached value that travels
pickled (the kind a forged cache entry would aim at)."""

import os
import subprocess
import sys

from sdk import task, workflow
from workflows.failing import bump


class Box:
    """A value of a type no handler takes: it travels pickled."""

    def __init__(self, n: int):
        self.n = n


@task(cache=True, cache_version="1.0")
def cached_box(n: int, counter_dir: str) -> Box:
    bump(counter_dir, "cached_box")
    return Box(n)


@task
def unbox(b: Box) -> int:
    return b.n


@workflow
def boxed_wf(n: int, counter_dir: str) -> int:
    return unbox(b=cached_box(n=n, counter_dir=counter_dir))


@task
def environments() -> dict[str, dict[str, str]]:
    """The environment of the task's process, and of a process it starts."""
    child = subprocess.run([sys.executable, "-c", "import json, os; print(json.dumps("
                            "dict(os.environ)))"], capture_output=True, text=True, check=True)
    import json

    return {"task": dict(os.environ), "child": json.loads(child.stdout)}
