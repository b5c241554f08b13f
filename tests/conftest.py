"""Every test gets its own graft folders, so no test touches the user's real ones or sees
another test's store or cache."""

import tempfile

import pytest


@pytest.fixture(autouse=True)
def graft_dirs(tmp_path, monkeypatch):
    """GRAFT_HOME, GRAFT_STORE and GRAFT_CACHE_DIR under this test's tmp_path (the store is
    opened once per URL per process, so the unique path also means a fresh store). Files
    that test tasks write with `tempfile` land there too."""
    home = tmp_path / "graft-home"
    dirs = {"home": home, "store": home / "store", "cache": tmp_path / "graft-cache",
            "tmp": tmp_path / "tmp"}
    dirs["tmp"].mkdir()
    monkeypatch.setenv("GRAFT_HOME", str(home))
    monkeypatch.setenv("GRAFT_STORE", str(dirs["store"]))
    monkeypatch.setenv("GRAFT_CACHE_DIR", str(dirs["cache"]))
    monkeypatch.delenv("GRAFT_LOCAL_CACHE", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["tmp"]))
    return dirs
