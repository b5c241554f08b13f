"""Running one node never raises: every failure becomes an error outcome (which a worker
reports), whatever raised it."""

from __future__ import annotations

import pytest

import sdk.runtime.execute
from sdk import task
from sdk.runtime.execute import execute
from sdk.values.store import MemoryStore


@task
def one(x: int) -> int:
    return x


def _spec():
    return one.node_spec("one", {})


@pytest.mark.parametrize("stage", ["load_inputs", "_encode_outputs"])
def test_an_unexpected_exception_becomes_an_error_outcome(monkeypatch, stage):
    def boom(*args, **kwargs):
        raise RuntimeError(f"unexpected in {stage}")

    monkeypatch.setattr(sdk.runtime.execute, stage, boom)
    outcome = execute(_spec(), one, {"x": {"val": {"v": 1}}}, MemoryStore())
    assert outcome.kind == "error"
    assert outcome.error["type"] == "RuntimeError"
    assert f"unexpected in {stage}" in outcome.error["message"]
    assert outcome.retriable is False


def test_a_store_failure_reading_inputs_is_retriable():
    outcome = execute(_spec(), one, {"x": {"val": {"u": "values/" + "0" * 64}}}, MemoryStore())
    assert outcome.kind == "error" and outcome.retriable is True
    assert "is gone" in outcome.error["message"]
