"""File, Directory and JoblibSerializedFile inputs given as URLs: accepted at submit without
the client reading them, read through fsspec by the tasks that use them, on the cluster and
in-process alike; a URL that cannot be read fails the node naming the URL."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import joblib
import pytest
from local_failures import local_failure
from workflows import files

from sdk import ExecutionFailed, TypeConversionError
from sdk.types import Directory, File, JoblibSerializedFile

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


class Served:
    """A folder served over HTTP on a free 127.0.0.1 port, with a log of the paths asked."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        served = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                served.requests.append(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    (root / "data").mkdir(parents=True)
    (root / "hello.txt").write_text("hello over http")
    for i in range(3):
        (root / "data" / f"part-{i}.csv").write_text(f"{i}\n")
    joblib.dump([1, 2, 3, 4], root / "model.joblib")
    server = Served(root)
    yield server
    server.close()


def _inputs(served: Served) -> dict[str, object]:
    return {"f": File(f"{served.url}/hello.txt"), "d": Directory(f"{served.url}/data/"),
            "m": JoblibSerializedFile(f"{served.url}/model.joblib")}


def test_url_inputs_are_read_by_the_tasks_not_the_client(cluster, served):
    execution = cluster.client().submit(files.url_inputs, **_inputs(served))
    assert served.requests == []  # submitted: nothing read yet
    remote = execution.wait(timeout=120)
    assert remote == ("hello", "hello over http",
                      ["part-0.csv", "part-1.csv", "part-2.csv"], 10)
    assert "/hello.txt" in served.requests and "/model.joblib" in served.requests
    assert files.url_inputs(**_inputs(served)) == remote


def test_a_url_that_cannot_be_read_names_the_url(cluster, served):
    missing = File(f"{served.url}/nowhere.txt")
    with pytest.raises(ExecutionFailed) as remote:
        cluster.client().submit(files.read_url, f=missing).wait(timeout=60)
    [failure] = remote.value.failures
    assert (failure.node_id, failure.error_type, failure.message) == \
        local_failure(lambda: files.read_url(f=missing))
    assert failure.error_type == "TypeConversionError"
    assert f"cannot read '{served.url}/nowhere.txt'" in failure.message
    assert "input 'f' of task 'read_text'" in failure.message


def test_a_url_of_a_filesystem_fsspec_lacks_fails_clearly(tmp_path):
    # gs://: gcsfs is in none of graft's extras (s3fs is, in `s3` and so in `dev`).
    with pytest.raises(TypeConversionError) as info:  # in-process: the node's own error
        files.read_url(f=File("gs://no-such-bucket/x.txt"))
    assert "cannot read 'gs://no-such-bucket/x.txt'" in str(info.value)
