"""Release what a workflow acquired when it fails, with `on_failure`.

`provision` books a scratch area, the steps use it, and `release` gives it back when any step
fails, with a `FlyteError` naming the node that failed. With
`FAIL_AFTER_EXECUTABLE_NODES_COMPLETE`, the steps that do not depend on the failure finish
before the handler runs.

    python examples/failure_handler.py
    graft run --remote --wait examples/failure_handler.py nightly --fail-at 2
"""

import os
import tempfile
import typing

from sdk import WorkflowFailurePolicy, task, workflow
from sdk.types.error import FlyteError


@task
def provision(name: str) -> str:
    path = os.path.join(tempfile.gettempdir(), f"scratch-{name}")
    os.makedirs(path, exist_ok=True)
    return path


@task
def step(scratch: str, index: int, fail_at: int) -> int:
    if index == fail_at:
        raise RuntimeError(f"step {index} could not read its input")
    with open(os.path.join(scratch, f"step-{index}.done"), "w") as fh:
        fh.write("ok")
    return index


@task
def release(name: str, fail_at: int, err: typing.Optional[FlyteError] = None) -> None:
    path = os.path.join(tempfile.gettempdir(), f"scratch-{name}")
    for entry in os.listdir(path) if os.path.isdir(path) else []:
        os.remove(os.path.join(path, entry))
    if os.path.isdir(path):
        os.rmdir(path)
    print(f"released {path}: {err.failed_node_id if err else '?'} failed with "
          f"{err.message if err else '?'}")


@workflow(on_failure=release,
          failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def nightly(name: str = "nightly", fail_at: int = -1) -> typing.List[int]:
    scratch = provision(name=name)
    return [step(scratch=scratch, index=i, fail_at=fail_at) for i in range(3)]


if __name__ == "__main__":
    print(nightly())
    try:
        nightly(fail_at=1)
    except Exception as exc:  # the workflow fails after release() has run
        print(f"failed as expected: {exc}".splitlines()[0])
