"""The seed: examples/knn.py runs on the cluster with the same result as in-process."""

import re
from pathlib import Path

import pytest

from sdk.runtime.loading import load_entity_from_file

KNN = Path(__file__).resolve().parents[2] / "examples" / "knn.py"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="session")
def knn_local(tmp_path_factory):
    """The seed's `wf` and its in-process result, computed once (it takes seconds). It runs
    in its own folders and working directory: it writes model files to the cwd."""
    root = tmp_path_factory.mktemp("knn-local")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAFT_HOME", str(root / "home"))
        mp.setenv("GRAFT_STORE", str(root / "home" / "store"))
        mp.setenv("GRAFT_CACHE_DIR", str(root / "cache"))
        mp.chdir(root)
        wf = load_entity_from_file(str(KNN), "wf")
        result = wf()
    assert sorted(p.name for p in root.glob("model-k*.joblib.dat")) == [
        f"model-k{k}.joblib.dat" for k in range(2, 8)]
    return wf, result


def test_knn_remote_equals_local(cluster, knn_local):
    wf, local = knn_local
    # Sanity of the local result itself: six models k=2..7, each [name, mean, std].
    assert [row[0] for row in local] == [f"model-k{k}.joblib.dat" for k in range(2, 8)]
    assert all(0.5 < float(row[1]) <= 1.0 and float(row[2]) >= 0 for row in local)

    execution = cluster.client().submit(wf)
    remote = execution.wait(timeout=150)
    assert remote == local
    assert execution.status() == "SUCCEEDED"
    nodes = {n.id: n for n in execution.nodes()}
    # get_dataset and get_models have a 600Mi limit, the dynamic 1000Mi: all on mem-1Gi;
    # the helper tasks grafted under the dynamic have no limit: mem-256Mi.
    assert nodes["get_dataset"].queue == "mem-1Gi"
    assert nodes["evaluate_model"].queue == "mem-1Gi"
    helpers = [n for nid, n in nodes.items() if nid.startswith("evaluate_model/")]
    assert len(helpers) == 6
    assert {n.queue for n in helpers} == {"mem-256Mi"}
    assert all(n.state == "SUCCEEDED" for n in nodes.values())


def test_knn_cli_remote_wait(cluster, knn_local, tmp_path):
    _, local = knn_local
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = cluster.run_cli("run", "--remote", "--wait", str(KNN), "wf", cwd=elsewhere,
                           timeout=170)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2, proc.stdout
    assert re.fullmatch(r"[0-9a-f]{20}", lines[0]), lines[0]
    assert lines[1] == repr(local)
    # The id it printed is a real execution that the client can reattach to.
    assert cluster.client().get(lines[0]).outputs() == local
    assert "SUCCEEDED" in proc.stderr
