"""Compiling does no I/O on a store: large literals and files a body names are staged in
memory (sdk.values.staging) and uploaded by submission (upload_spec) or the local runner."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from workflows import basic

from sdk import dynamic, map_task, task, workflow
from sdk.remote.specs import upload_spec
from sdk.types import File
from sdk.values.staging import staged
from sdk.values.store import MemoryStore, get_verified

BIG = list(range(3000))


@task
def size_and_sum(f: File, xs: list[int]) -> int:
    return len(Path(f.download()).read_text()) + sum(xs)


@task
def plus(x: int, xs: list[int]) -> int:
    return x + len(xs)


def files_under(folder: Path) -> list[str]:
    return [os.path.join(root, n) for root, _, names in os.walk(folder) for n in names]


def make_workflow(path: Path):
    @workflow
    def literal_wf() -> int:
        return size_and_sum(f=File(str(path)), xs=BIG)

    return literal_wf


def test_compiling_writes_nothing_to_the_store_and_running_uploads_what_it_needs(graft_dirs,
                                                                                tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("x" * 5000)
    wf = make_workflow(data)
    spec = wf.compile()
    literals = json.dumps(spec.to_json())
    assert '"u": "values/' in literals.replace('":"', '": "')  # BIG went out of line
    assert files_under(graft_dirs["store"]) == []
    mapped = map_task(functools.partial(plus, xs=BIG)).graph()  # a bound literal, staged
    assert "values/" in mapped.dumps() and files_under(graft_dirs["store"]) == []
    assert wf() == 5000 + sum(BIG)
    assert len(files_under(graft_dirs["store"])) >= 2  # the file and the list, at least


def test_upload_spec_publishes_the_staged_objects_the_spec_refers_to(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("y" * 4000)
    spec = make_workflow(data).compile()
    store = MemoryStore()
    key = upload_spec(spec, store)
    text = get_verified(store, key).decode()
    refs = [k for k in store._data if k.startswith(("values/", "blobs/"))]
    assert refs and all(staged().exists(k) for k in refs)
    for k in refs:
        assert k in text or k.startswith("blobs/")  # a file's blob is named by its literal
    assert upload_spec(spec, store) == key


def test_a_spec_compiled_once_runs_against_another_store(graft_dirs, tmp_path, monkeypatch):
    assert basic.big_literal() == sum(range(2000))
    monkeypatch.setenv("GRAFT_STORE", str(tmp_path / "other-store"))
    assert files_under(tmp_path / "other-store") == []
    assert basic.big_literal() == sum(range(2000))


@dynamic
def calls_big_literal(n: int) -> list[int]:
    return [basic.big_literal() for _ in range(n)]


@workflow
def dynamic_of_big_literal(n: int) -> list[int]:
    return calls_big_literal(n=n)


def test_a_dynamic_publishes_what_the_workflows_in_its_body_staged(tmp_path, monkeypatch):
    basic.big_literal.compile()  # staged here; the sub-graph below refers to it
    monkeypatch.setenv("GRAFT_STORE", str(tmp_path / "worker-store"))
    assert dynamic_of_big_literal(n=2) == [sum(range(2000))] * 2
