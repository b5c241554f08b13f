"""The worker's Request class: a finished attempt's lease is dropped even though Celery runs
a per-task subclass whose `on_success` does not call ours."""

from __future__ import annotations

from types import SimpleNamespace

from celery.worker.request import create_request_cls

from worker.request import GraftRequest


def test_celerys_generated_request_class_still_drops_the_lease():
    task = SimpleNamespace(time_limit=None, soft_time_limit=None, acks_late=True)
    made = create_request_cls(GraftRequest, task, SimpleNamespace(apply_async=None), "host",
                              None, app=SimpleNamespace(use_fast_trace_task=False))
    assert made.on_success.__qualname__.startswith("GraftRequest.__init_subclass__")


def test_the_wrapped_on_success_drops_after_celerys_own_and_only_for_success():
    calls: list = []

    class Generated(GraftRequest):  # what create_request_cls makes, reduced to its effect
        def on_success(self, failed__retval__runtime, **kwargs):
            calls.append("celery")

    request = Generated.__new__(Generated)
    request._drop_lease = lambda release=True: calls.append(("drop", release))
    request.on_success((False, "values", 0.1))
    request.on_success((False, "duplicate", 0.1))
    request.on_success((True, None, 0.1))  # a failure: on_failure drops it
    assert calls == ["celery", ("drop", True), "celery", ("drop", False), "celery"]
