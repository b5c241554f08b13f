"""The fsspec store on a non-local filesystem, and code bundles made and imported."""

from __future__ import annotations

import shutil
import sys
import textwrap
import uuid

import pytest

from sdk.model.errors import GraftError, StoreError
from sdk.model.spec import TaskRef
from sdk.remote.specs import code_bundles, upload_spec
from sdk.runtime.bundle import load_entity, make_bundle, source_root, upload_bundle
from sdk.values.store import FsspecStore, MemoryStore, put_blob


def test_fsspec_store_on_a_remote_style_filesystem():
    store = FsspecStore(f"memory://graft-{uuid.uuid4().hex}")
    assert not store.local
    key = put_blob(store, b"hello")
    assert key.startswith("blobs/") and store.exists(key)
    assert store.get(key) == b"hello"
    assert put_blob(store, b"hello") == key  # content-addressed: stored once
    with pytest.raises(StoreError, match="is gone from memory://"):
        store.get("blobs/" + "0" * 64)


def test_store_refuses_keys_that_escape_it(tmp_path):
    store = FsspecStore(str(tmp_path))
    with pytest.raises(StoreError, match="invalid store key"):
        store.put("../outside", b"x")


def test_unknown_store_protocol_is_a_clear_error():
    with pytest.raises(StoreError, match="GRAFT_STORE='nosuchproto://x': cannot open it"):
        FsspecStore("nosuchproto://x")


def _write_module(folder, name, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def test_bundle_is_deterministic_and_holds_only_sources(tmp_path):
    _write_module(tmp_path, "a", "X = 1\n")
    (tmp_path / "data.bin").write_bytes(b"\0" * 100)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    first = make_bundle(tmp_path)
    assert first == make_bundle(tmp_path)
    import io
    import zipfile

    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["a.py"]
    _write_module(tmp_path, "a", "X = 2\n")
    assert make_bundle(tmp_path) != first


def test_source_root_of_a_package_module(tmp_path, monkeypatch):
    pkg = tmp_path / f"pkg_{uuid.uuid4().hex[:8]}"
    _write_module(pkg, "__init__", "")
    _write_module(pkg / "sub", "__init__", "")
    _write_module(pkg / "sub", "mod", "Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(f"{pkg.name}.sub.mod")
    name, root = source_root(f"{pkg.name}.sub.mod")
    assert (name, root) == (f"{pkg.name}.sub.mod", tmp_path.resolve())


TASK_SOURCE = """
from sdk import task

@task
def answer(x: int) -> int:
    return x + {delta}
"""


def test_worker_imports_from_the_bundle_and_follows_a_new_version(tmp_path):
    store = MemoryStore()
    module = f"bundled_{uuid.uuid4().hex[:10]}"
    src = tmp_path / "v1"
    _write_module(src, module, TASK_SOURCE.format(delta=1))
    v1 = upload_bundle(src, store)
    entity = load_entity(TaskRef(module, "answer", "answer", v1), store)
    assert entity.fn(1) == 2
    assert f"/bundles/{v1}/" in sys.modules[module].__file__

    src2 = tmp_path / "v2"
    _write_module(src2, module, TASK_SOURCE.format(delta=100))
    v2 = upload_bundle(src2, store)
    assert v2 != v1
    assert load_entity(TaskRef(module, "answer", "answer", v2), store).fn(1) == 101
    assert f"/bundles/{v2}/" in sys.modules[module].__file__


def test_unimportable_module_names_module_and_task():
    with pytest.raises(GraftError, match="cannot import module 'no_such_mod_xyz' for task 't'"):
        load_entity(TaskRef("no_such_mod_xyz", "t", "t", None), MemoryStore())


def test_missing_bundle_is_a_store_error():
    with pytest.raises(StoreError, match="is gone"):
        load_entity(TaskRef("no_such_mod_abc", "t", "t", "f" * 64), MemoryStore())


def test_name_that_is_not_a_task(tmp_path):
    store = MemoryStore()
    module = f"plain_{uuid.uuid4().hex[:10]}"
    _write_module(tmp_path, module, "def helper():\n    return 1\n")
    bundle = upload_bundle(tmp_path, store)
    with pytest.raises(GraftError, match="is not a graft task"):
        load_entity(TaskRef(module, "helper", "helper", bundle), store)
    with pytest.raises(GraftError, match="has no 'missing'"):
        load_entity(TaskRef(module, "missing", "missing", bundle), store)


def test_a_new_bundle_replaces_helper_modules_of_the_old_one(tmp_path):
    store = MemoryStore()
    tag = uuid.uuid4().hex[:10]
    flow, helper = f"flow_{tag}", f"helper_{tag}"
    ids = []
    for version in (1, 2):
        src = tmp_path / f"v{version}"
        _write_module(src, helper, f"OFFSET = {version * 1000}\n")
        _write_module(src, flow, f"""
            from sdk import task
            import {helper}

            @task
            def shifted(x: int) -> int:
                return x + {helper}.OFFSET
            """)
        ids.append(upload_bundle(src, store))
    first = load_entity(TaskRef(flow, "shifted", "shifted", ids[0]), store)
    assert first.fn(1) == 1001
    second = load_entity(TaskRef(flow, "shifted", "shifted", ids[1]), store)
    assert second.fn(1) == 2001  # the helper too comes from the new bundle
    assert f"/bundles/{ids[1]}/" in sys.modules[helper].__file__
    assert load_entity(TaskRef(flow, "shifted", "shifted", ids[0]), store).fn(1) == 1001
    assert sum(f"/bundles/{i}" in p for p in sys.path for i in ids) == 1


def test_a_bundle_never_replaces_installed_modules(tmp_path):
    store = MemoryStore()
    tag = uuid.uuid4().hex[:10]
    (tmp_path / "sdk").mkdir()
    (tmp_path / "sdk" / "__init__.py").write_text("raise RuntimeError('shadowed')\n")
    _write_module(tmp_path, f"uses_{tag}", "from sdk import task\n\n@task\ndef t() -> int:\n"
                                          "    return 7\n")
    import sdk

    entity = load_entity(TaskRef(f"uses_{tag}", "t", "t", upload_bundle(tmp_path, store)),
                         store)
    assert entity.fn() == 7
    assert sys.modules["sdk"] is sdk


WORKFLOW_SOURCE = """
from sdk import task, workflow

@task
def plus(x: int) -> int:
    return x + 1

@workflow
def wf(x: int = 1) -> int:
    return plus(x=x)
"""


def _import_from(folder, name, monkeypatch):
    """Module `name` written to `folder` and imported from there (names are unique per test:
    the module stays imported)."""
    _write_module(folder, name, WORKFLOW_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    return __import__(name)


def test_a_module_whose_folder_is_gone_is_refused_before_anything_is_stored(tmp_path,
                                                                             monkeypatch):
    name = f"gonewf_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "gone"
    module = _import_from(folder, name, monkeypatch)
    shutil.rmtree(folder)
    store = MemoryStore()
    with pytest.raises(GraftError) as info:
        upload_spec(module.wf.graph(), store)
    assert str(info.value).startswith(
        f"module {name!r} cannot be sent to the workers: it was imported from {folder}, but "
        f"that folder is gone, so the code bundle of {folder} would hold no Python file at "
        f"all, and every node of it would fail there with \"No module named {name!r}\".")
    assert store.keys("") == []


def test_a_module_whose_file_is_gone_is_refused(tmp_path, monkeypatch):
    name = f"gonefile_{uuid.uuid4().hex[:10]}"
    module = _import_from(tmp_path, name, monkeypatch)
    _write_module(tmp_path, "neighbour", "X = 1\n")
    (tmp_path / f"{name}.py").unlink()
    with pytest.raises(GraftError, match=rf"^module {name!r} cannot be sent to the workers: it "
                                         rf"was imported from {tmp_path}, but {name}.py is no "
                                         rf"longer there, so the code bundle of {tmp_path} would "
                                         rf"hold everything but it"):
        code_bundles(module.wf.graph())


def test_modules_of_one_folder_share_one_bundle(tmp_path, monkeypatch):
    name = f"kept_{uuid.uuid4().hex[:10]}"
    module = _import_from(tmp_path, name, monkeypatch)
    (bundle_name, data), = code_bundles(module.wf.graph()).values()
    assert bundle_name == name and data == make_bundle(tmp_path)
