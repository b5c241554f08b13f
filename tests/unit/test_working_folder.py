"""An attempt's working folder is made only when the task asks for it (issue 26: making and
removing one was most of a no-op attempt's time on a worker), and removed after."""

from __future__ import annotations

import os
import tempfile

import pytest

from sdk.runtime import context
from sdk.runtime.context import attempt_context, current_context
from sdk.runtime.flyte_context import attempt_files
from sdk.values.store import MemoryStore


@pytest.fixture()
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    folders: list[str] = []
    real = tempfile.mkdtemp

    def counting(*args: object, **kwargs: object) -> str:
        path = real(*args, **kwargs)  # type: ignore[arg-type]
        if os.path.basename(path).startswith("graft-attempt-"):
            folders.append(path)
        return path

    monkeypatch.setattr(context.tempfile, "mkdtemp", counting)
    return folders


def test_an_attempt_that_never_asks_makes_no_folder(made: list[str]) -> None:
    with attempt_context(MemoryStore(), "e", "n0", 1) as params, \
            attempt_files(params, in_process=False):
        assert current_context().node_id == "n0"
    assert made == []


def test_the_folder_is_made_on_first_ask_kept_for_the_attempt_and_removed_after(
        made: list[str]) -> None:
    with attempt_context(MemoryStore(), "e", "n0", 1) as params, \
            attempt_files(params, in_process=False) as ctx:
        first = current_context().working_directory
        assert os.path.isdir(first) and os.listdir(first) == []
        assert current_context().working_directory == first
        assert os.fspath(ctx.execution_state.working_dir) == first
    assert made == [first]
    assert not os.path.exists(first)


def test_outside_an_attempt_the_working_directory_is_the_current_one(made: list[str]) -> None:
    assert current_context().working_directory == os.getcwd()
    assert made == []
