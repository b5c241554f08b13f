"""A node's checkpoint as flytekit's SyncCheckpoint: bytes (`read`/`write`), a file or folder
(`save`/`restore`), whichever was saved last."""

from __future__ import annotations

import io
import zipfile

import pytest

from sdk.core.checkpointer import SyncCheckpoint
from sdk.model.errors import GraftError
from sdk.runtime.checkpoint import BYTES_FILE, Checkpoint, NoCheckpoint
from sdk.values.store import MemoryStore


@pytest.fixture
def cp() -> Checkpoint:
    return Checkpoint(MemoryStore(), "checkpoints/e/n")


def test_nothing_saved(cp, tmp_path):
    assert not cp.prev_exists()
    assert cp.read() is None and cp.restore(tmp_path) is None
    assert SyncCheckpoint is Checkpoint


def test_bytes_are_read_back_and_restore_as_flytekits_file(cp, tmp_path):
    cp.write(b"state-1")
    assert cp.prev_exists() and cp.read() == b"state-1"
    assert (cp.restore(tmp_path) / BYTES_FILE).read_bytes() == b"state-1"
    cp.save(io.BytesIO(b"state-2"))
    assert cp.read() == b"state-2"


def test_a_folder_is_restored_whole_and_replaces_the_bytes(cp, tmp_path):
    cp.write(b"old")
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "deep" / "b.bin").write_bytes(b"\x00B")
    cp.save(src)
    back = cp.restore()
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()) == \
        ["a.txt", "deep/b.bin"]
    assert (back / "deep" / "b.bin").read_bytes() == b"\x00B"
    with pytest.raises(ValueError, match="Expected exactly one checkpoint - found 2"):
        cp.read()
    one = tmp_path / "model.pt"
    one.write_bytes(b"weights")
    cp.save(one)
    assert cp.read() == b"weights"
    assert (cp.restore(tmp_path / "r" if (tmp_path / "r").mkdir() is None else None)
            / "model.pt").read_bytes() == b"weights"


def test_bad_arguments_and_a_tampered_archive_are_clear_errors(cp, tmp_path):
    with pytest.raises(ValueError, match="neither a file nor a folder"):
        cp.save(tmp_path / "nothing")
    with pytest.raises(ValueError, match="Only a valid path or IOBase"):
        cp.save(42)
    with pytest.raises(ValueError, match="restored to a directory only"):
        cp.restore(tmp_path / "missing")
    with pytest.raises(GraftError, match="takes bytes"):
        cp.write("text")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.txt", "x")
    cp._store.put("checkpoints/e/n/saved.zip", buf.getvalue())
    with pytest.raises(GraftError, match="outside its folder"):
        cp.restore(tmp_path)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_outside_a_task_every_use_says_where_checkpoints_exist():
    for use in (lambda c: c.read(), lambda c: c.write(b""), lambda c: c.save("x"),
                lambda c: c.restore(), lambda c: c.prev_exists()):
        with pytest.raises(GraftError, match="inside a running task only"):
            use(NoCheckpoint())
