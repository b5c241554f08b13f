"""Every deterministic test workflow gives the same native result on the cluster as in-process.

All executions of a backend are submitted at once (module fixture), so the cluster runs them
side by side; each case then waits for its own and compares.
"""

import os
from pathlib import Path

import pytest
from workflows import files
from workflows.cases import CASES

from sdk.types import Directory, File

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FILE_CASES = {
    "file": (files.file_wf, {"text": "hello from the cluster"}),
    "directory": (files.dir_wf, {"n": 4}),
}


@pytest.fixture(scope="module")
def submitted(cluster_session):
    """{case id: Execution}, submitted with GRAFT_STORE at the cluster's store."""
    client = cluster_session.client()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAFT_STORE", cluster_session.store_url)
        for case in CASES:
            out[case.id] = client.submit(case.workflow, **case.kwargs)
        for cid, (wf, kwargs) in FILE_CASES.items():
            out[cid] = client.submit(wf, **kwargs)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_remote_equals_local(cluster, submitted, case):
    local = case.workflow(**case.kwargs)
    assert local == case.expected  # the reference itself, so that == below means something
    execution = submitted[case.id]
    remote = execution.wait(timeout=90)
    assert remote == local
    assert type(remote) is type(local)
    assert execution.status() == "SUCCEEDED"
    nodes = execution.nodes()
    assert nodes, "the board lists no nodes"
    bad = [(n.id, n.state) for n in nodes if n.state != "SUCCEEDED"]
    assert not bad


def _tree(root: str) -> dict[str, bytes]:
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            full = Path(folder) / name
            out[full.relative_to(root).as_posix()] = full.read_bytes()
    return out


def test_file_outputs(cluster, submitted):
    wf, kwargs = FILE_CASES["file"]
    local = wf(**kwargs)
    remote = submitted["file"].wait(timeout=90)
    assert remote[:2] == local[:2] == ("hello from the cluster", "greeting.txt")
    lf, rf = local[2], remote[2]
    assert isinstance(rf, File) and isinstance(lf, File)
    assert os.path.basename(rf) == os.path.basename(lf) == "upper-greeting.txt"
    assert Path(rf).read_bytes() == Path(lf).read_bytes() == b"HELLO FROM THE CLUSTER"


def test_directory_outputs(cluster, submitted):
    wf, kwargs = FILE_CASES["directory"]
    local = wf(**kwargs)
    remote = submitted["directory"].wait(timeout=90)
    names = ["part-0.txt", "part-1.txt", "part-2.txt", "part-3.txt", "sub/nested.txt"]
    assert remote[:2] == local[:2] == (names, 1 + 2 + 3 + 4 + 4)
    ld, rd = local[2], remote[2]
    assert isinstance(rd, Directory) and isinstance(ld, Directory)
    assert os.path.basename(rd) == os.path.basename(ld) == "data"
    assert _tree(rd) == _tree(ld)
    assert _tree(rd)["part-3.txt"] == b"3333"
