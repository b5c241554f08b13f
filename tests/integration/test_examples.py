"""The control-flow examples under examples/ give the same result on the cluster, through
`graft run --remote --wait`, as `graft run` in-process."""

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

RUNS = [
    ("map_task.py", "review_scores", [],
     "([2, -2, None, 1, -1], {'scored': 4, 'skipped': 1, 'positive': 2, 'negative': 2})"),
    ("conditional.py", "train", ["--rows", "50000"], "'sharded fit on 50000 rows in 5 shards'"),
    ("conditional.py", "train", ["--rows", "50000", "--force-quick", "true"],
     "'quick fit on 50000 rows'"),
    ("failure_handler.py", "nightly", ["--name", "it-ok"], "[0, 1, 2]"),
]


@pytest.mark.parametrize(("file", "name", "args", "expected"), RUNS,
                         ids=[f"{f}-{' '.join(a) or 'defaults'}" for f, _, a, _ in RUNS])
def test_an_example_runs_alike_in_process_and_on_the_cluster(cluster, file, name, args,
                                                             expected):
    path = str(EXAMPLES / file)
    local = cluster.run_cli("run", path, name, *args)
    assert local.returncode == 0, local.stderr
    remote = cluster.run_cli("run", "--remote", "--wait", path, name, *args)
    assert remote.returncode == 0, remote.stderr
    assert local.stdout.strip().splitlines()[-1] == expected
    assert remote.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("remote", [False, True], ids=["in-process", "cluster"])
def test_the_failure_example_releases_its_scratch_area(cluster, remote):
    """The workflow fails at step 1; steps 0 and 2 finish first (FAIL_AFTER_EXECUTABLE_NODES_
    COMPLETE), then `release` removes the scratch folder that `provision` made."""
    name = f"it-{cluster.backend}-{'cluster' if remote else 'local'}-{uuid.uuid4().hex[:6]}"
    scratch = Path(tempfile.gettempdir()) / f"scratch-{name}"
    flags = ["--remote", "--wait"] if remote else []
    try:
        done = cluster.run_cli("run", *flags, str(EXAMPLES / "failure_handler.py"), "nightly",
                               "--name", name, "--fail-at", "1")
        assert done.returncode != 0
        assert "step 1 could not read its input" in done.stderr
        assert not scratch.exists(), "the failure handler did not release the scratch area"
        if remote:
            execution = cluster.client().get(done.stdout.splitlines()[0].strip())
            states = {n.id: n.state for n in execution.nodes()}
            assert states == {"provision": "SUCCEEDED", "step": "SUCCEEDED",
                              "step-1": "FAILED", "step-2": "SUCCEEDED",
                              "on-failure": "SUCCEEDED"}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
