"""The worker's parent-side view of each node attempt (Celery's `Request`).

The worker holds the attempt's lease from the moment its message arrives (`on_received`, from
the `task_received` signal) until its request ends, whether it succeeded or failed: the claim
that starts the attempt takes the lease, and the lease thread renews it on each tick. When the pool
process running it dies (killed, out of memory, crashed), the parent learns at once and
reports the attempt as lost (a SYSTEM failure), so the scheduler runs a new attempt without
waiting for the lease to run out. The task-failed and task-retried events of a failed attempt
carry the user's traceback (`worker.monitor`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from billiard.einfo import ExceptionWithTraceback
from billiard.exceptions import WorkerLostError
from celery.exceptions import Retry
from celery.worker.request import Request

from sdk.model.config import Settings
from sdk.model.errors import GraftError
from sdk.model.failures import process_ended
from sdk.model.report import Failure, Report
from sdk.wire.chunks import check_chunk, reports_message
from sdk.wire.messages import check_task, report_message
from worker.leases import attempt_of, attempts_of, keeper
from worker.monitor import NodeFailed
from worker.supervisor import TERMINATE

log = logging.getLogger("graft.worker")

DROPPED = ("duplicate", "superseded", "refused")  # what run_node returns for copies it skips


def on_received(request: Any) -> None:
    first = attempt_of(request.args)
    for key in attempts_of(request.args):  # the links of a chain: once claimed (`hold`)
        keeper().hold(key, take=first is None or key == first)


class GraftRequest(Request):
    def on_accepted(self, pid: int, time_accepted: float) -> None:
        super().on_accepted(pid, time_accepted)
        for key in attempts_of(self.args):
            keeper().running(key, pid)

    def terminate(self, pool: Any, signal: Any = None) -> None:
        """An operator terminates this attempt (Flower's Terminate, `celery control revoke
        --terminate`): the pool process stops it and fails it as `Terminated` (not retried)
        instead of dying, which would make it a lost attempt to run again."""
        super().terminate(pool, TERMINATE)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Celery's worker runs a subclass of this class made per task
        (`celery.worker.request.create_request_cls`), whose own `on_success` never calls
        this class's: wrap it, so that a finished attempt's lease is dropped there too."""
        super().__init_subclass__(**kwargs)
        generated = cls.__dict__.get("on_success")
        if generated is None:
            return

        def on_success(self: GraftRequest, failed__retval__runtime: Any, **kw: Any) -> None:
            try:
                generated(self, failed__retval__runtime, **kw)
            finally:
                self._succeeded(failed__retval__runtime)

        cls.on_success = on_success  # type: ignore[method-assign]

    def on_success(self, failed__retval__runtime: Any, **kwargs: Any) -> None:
        try:
            super().on_success(failed__retval__runtime, **kwargs)
        finally:
            self._succeeded(failed__retval__runtime)

    def _succeeded(self, failed__retval__runtime: Any) -> None:
        failed, retval, _runtime = failed__retval__runtime
        if failed:
            return  # it went on to on_failure, which dropped the lease
        # A copy dropped unrun leaves the lease to the worker that runs the attempt.
        if isinstance(retval, dict):  # a chunk: its items dropped unrun are listed
            kept = {tuple(k) for k in retval.get("dropped") or () if isinstance(k, list)}
            for key in attempts_of(self.args):
                keeper().drop(key, self.worker_pid, release=key not in kept)
            return
        self._drop_lease(release=retval not in DROPPED)

    def on_failure(self, exc_info: Any, send_failed_event: bool = True,
                   return_ok: bool = False) -> None:
        try:
            exc = exc_info.exception
            if isinstance(exc, ExceptionWithTraceback):
                exc = exc.exc
            if isinstance(exc, WorkerLostError):
                self._report_lost(exc)
            failed = exc.exc if isinstance(exc, Retry) else exc
            if isinstance(failed, NodeFailed) and failed.traceback:
                exc_info.traceback = failed.traceback  # the user's, not run_node's raise
            super().on_failure(exc_info, send_failed_event=send_failed_event,
                               return_ok=return_ok)
        finally:
            self._drop_lease()

    def _drop_lease(self, release: bool = True) -> None:
        for key in attempts_of(self.args):
            keeper().drop(key, self.worker_pid, release=release)

    def _report_lost(self, exc: BaseException) -> None:
        if attempt_of(self.args) is None:
            self._report_chunk_lost(exc)
            return
        try:
            eid, node, attempt, payload = check_task(self.args, Settings.from_env().secret)
        except GraftError:
            return  # not a message this worker would have run
        log.warning("the process running attempt %d of node %s of %s died (%s); reporting "
                    "it lost", attempt, node, eid, exc)
        lost = report_message(eid, payload["token"], Report.failed(
            node, attempt, lost_failure(attempt, node, exc), worker=self.hostname or ""))
        links = payload.get("next") or []
        if not links:
            keeper().report(lost)
            return
        # The links of its chain (`worker.chain`) as well, in one message: those the
        # scheduler does not wait for (not claimed, or reported) it ignores.
        keeper().report(reports_message(eid, [lost, *(report_message(
            eid, link["token"], Report.failed(link["node"], link["attempt"], lost_failure(
                link["attempt"], link["node"], exc), worker=self.hostname or ""))
            for link in links)]))


    def _report_chunk_lost(self, exc: BaseException) -> None:
        """The pool process running a chunk died: report every item of it lost, in one
        message. Those it had reported already are not awaited any more, and the scheduler
        ignores their copy; the others are retried, each alone."""
        try:
            eid, parent_id, payload = check_chunk(self.args, Settings.from_env().secret)
        except GraftError:
            return
        log.warning("the process running %d items under node %s of %s died (%s); reporting those "
                    "not reported lost", len(payload["items"]), parent_id, eid, exc)
        messages = []
        for item in payload["items"]:
            node, attempt = item["node"], item["attempt"]
            messages.append(report_message(eid, item["token"], Report.failed(
                node, attempt, lost_failure(attempt, node, exc), worker=self.hostname or "")))
        keeper().report(reports_message(eid, messages))


def lost_failure(attempt: int, node: str, exc: BaseException) -> Failure:
    """Why the pool process running an attempt died, from what billiard says of it (an exit
    code when it exited; a signal is classified by its text)."""
    text = str(exc)
    code = re.search(r"exitcode (\d+)", text)
    return process_ended(f"attempt {attempt} of node {node!r}", "died",
                         exitcode=int(code.group(1)) if code else None, cause=text)
