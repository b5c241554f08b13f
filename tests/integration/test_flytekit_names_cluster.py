"""More of flytekit's names and options on the cluster (issue 23, point 12): map task classes
with bound inputs, tables written at a path, untyped (pickled) values, resource pairs, cache
policies, files put at a remote path and formatted files travel between real workers and
give what they give in-process."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from workflows import flytekit_names as fn

from sdk.model.spec import GraphSpec
from sdk.types.structured import StructuredDataset
from sdk.values.store import open_store

pytestmark = [
    pytest.mark.integration, pytest.mark.timeout(300),
    pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True),
]


@pytest.fixture
def served(tmp_path):
    """A folder holding a Parquet table, served over HTTP (without byte ranges)."""
    root = tmp_path / "www"
    root.mkdir()
    pd.DataFrame({"a": [9, 8]}).to_parquet(root / "t.parquet")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_flytekit_names_run_on_the_workers_as_in_process(cluster, tmp_path, served):
    client = cluster.client()
    runs = {
        "table_at_url": client.submit(fn.column_a, sd=StructuredDataset(uri=f"{served}/t.parquet")),
        "bound_values": client.submit(fn.bound_values_wf, xs=[1, 2, 3]),
        "bound_names": client.submit(fn.bound_names_wf, xs=[1, 2], a=5),
        "array_node": client.submit(fn.array_node_wf, xs=[1, 2]),
        "legacy": client.submit(fn.legacy_wf, xs=[1, 2], bs=[3, 4]),
        "tables": client.submit(fn.table_at_wf, parquet_dir=str(tmp_path / "parquet"),
                                csv_dir=str(tmp_path / "csv")),
        "untyped": client.submit(fn.untyped_wf, x=3, k=2),
        "untyped_dynamic": client.submit(fn.untyped_dynamic, x=4),
        "resources": client.submit(fn.resources_wf, x=1),
        "files": client.submit(fn.remote_files_wf, file_at=str(tmp_path / "r" / "f.txt"),
                               dir_at=str(tmp_path / "r" / "dir")),
        "formats": client.submit(fn.formats_wf),
        "hinted": client.submit(fn.hinted, x=1),
    }
    out = {name: ex.wait(timeout=240) for name, ex in runs.items()}
    assert out["bound_values"] == fn.bound_values_wf(xs=[1, 2, 3]) == [3, 6, 9]
    assert out["bound_names"] == [5, 10]
    assert out["array_node"] == [105, 110]
    assert out["legacy"] == [4, 8]

    assert out["table_at_url"] == [9, 8]  # read by a worker at the URL
    assert out["tables"] == ([1, 2], [1, 2], [3, 4])  # written at the paths by a worker
    assert pd.read_parquet(tmp_path / "parquet" / "00000")["a"].tolist() == [1, 2]
    assert pd.read_csv(tmp_path / "csv" / ".csv")["a"].tolist() == [3, 4]

    assert out["untyped"] == [6, "Point"] and out["untyped_dynamic"] == [40, "Point"]
    assert out["resources"] == (2, 3, 2)
    assert out["files"] == ("hello|False|True|f.txt", ["a.txt", "sub/b.txt"],
                            "made|False|True|made.txt", ["x.txt"])
    assert (tmp_path / "r" / "f.txt").read_text() == "hello"
    assert (tmp_path / "r" / "dir" / "sub" / "b.txt").read_text() == "B"
    assert out["formats"] == ["jpeg", "tensorboard", "", "tar.gz"]
    assert out["hinted"] == 105
    for ex in runs.values():
        assert ex.status() == "SUCCEEDED"

    # resource pairs: the limit picks the tier; a single quantity is a request
    queues = {n.id: n.queue for n in runs["resources"].nodes()}
    assert queues == {"paired": "mem-1Gi", "requested": "mem-1Gi", "paired-1": "mem-256Mi"}
    spec_key = runs["resources"].info()["spec"]
    spec = GraphSpec.loads(open_store(cluster.store_url).get(spec_key))
    paired = next(n for n in spec.nodes if n.id == "paired")
    assert (paired.requests["cpu"], paired.limits["cpu"]) == (1.0, 2.0)


def test_cache_policies_give_the_version_the_workers_key_on(cluster):
    client = cluster.client()
    first = client.submit(fn.cached_by_policy_wf, x=11)
    assert first.wait(timeout=120) == 77
    second = client.submit(fn.cached_by_policy_wf, x=11)
    assert second.wait(timeout=120) == 77
    assert [n.cached for n in first.nodes()] == [False]
    assert [n.cached for n in second.nodes()] == [True]
    from sdk.runtime.cache import cluster_index

    versions = {e.version for e in cluster_index(open_store(cluster.store_url), None).entries()
                if e.task.endswith("cached_by_policy")}
    assert versions == {fn.cached_by_policy.cache_version}
