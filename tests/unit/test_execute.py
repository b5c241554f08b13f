"""Running one node never raises: every failure becomes a failed report (which a worker
sends), classified by the failure model, whatever raised it."""

from __future__ import annotations

import pytest

import sdk.runtime.execute
from sdk import task
from sdk.model.errors import StoreError, StoreIntegrityError, TypeConversionError
from sdk.model.failures import failure_kind
from sdk.model.report import FailureKind, Outcome
from sdk.runtime.execute import execute
from sdk.values.store import MemoryStore, put_blob


@task
def one(x: int) -> int:
    return x


@task
def raises(x: int) -> int:
    raise ValueError(f"no {x}")


def _run(entity, inputs, store=None):
    spec = entity.node_spec(entity.name, {})
    return execute(spec, entity, inputs, store or MemoryStore(), node_id=entity.name,
                   attempt=1)


@pytest.mark.parametrize("stage", ["load_inputs", "_encode_outputs"])
def test_an_unexpected_exception_becomes_a_data_failure(monkeypatch, stage):
    def boom(*args, **kwargs):
        raise RuntimeError(f"unexpected in {stage}")

    monkeypatch.setattr(sdk.runtime.execute, stage, boom)
    report = _run(one, {"x": {"val": {"v": 1}}}).report
    assert report.outcome == Outcome.ERROR
    assert report.error.type == "RuntimeError"
    assert f"unexpected in {stage}" in report.error.message
    assert report.error.kind == FailureKind.DATA


def test_user_code_raising_is_a_user_failure_with_its_traceback():
    ran = _run(raises, {"x": {"val": {"v": 3}}})
    assert ran.report.error.kind == FailureKind.USER
    assert ran.report.error.type == "ValueError" and ran.report.error.message == "no 3"
    assert "raise ValueError" in ran.report.error.traceback
    assert "sdk/runtime" not in ran.report.error.traceback  # graft's own frames are cut
    assert isinstance(ran.exception, ValueError)


def test_a_missing_input_object_is_final_and_a_tampered_one_too():
    gone = _run(one, {"x": {"val": {"u": "values/" + "0" * 64}}}).report
    assert gone.error.kind == FailureKind.DATA and "is gone" in gone.error.message
    store = MemoryStore()
    key = put_blob(store, b"1", prefix="values")
    store.put(key, b"2")  # the bytes no longer match their key
    tampered = _run(one, {"x": {"val": {"u": key}}}, store).report
    assert tampered.error.kind == FailureKind.DATA
    assert tampered.error.type == "StoreIntegrityError"


def test_failure_kinds():
    assert failure_kind(StoreError("connection reset")) == FailureKind.SYSTEM
    assert failure_kind(StoreIntegrityError("changed")) == FailureKind.DATA
    assert failure_kind(TypeConversionError("bad"), user_code=True) == FailureKind.DATA
    assert failure_kind(KeyError("x"), user_code=True) == FailureKind.USER
    assert failure_kind(KeyError("x")) == FailureKind.DATA
