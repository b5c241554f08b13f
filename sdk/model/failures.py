"""The one classifier of graft's failure model: what kind of failure (USER, SYSTEM, DATA) an
exception or the early end of a task's process makes of a node attempt.

Exceptions are classified by the error tree (`sdk.model.errors`: each class's `kind`); the
engine then retries by kind alone (`sdk.model.report` describes the kinds). Everything that
turns an exception or a process's end into a `Failure` (the runtime, the worker, the
scheduler) asks here, so the rule is written once.
"""

from __future__ import annotations

import signal
import traceback

from sdk.model.errors import FailureKind, GraftError
from sdk.model.report import Failure


def failure_kind(exc: BaseException, *, user_code: bool = False) -> FailureKind:
    """The kind of failure `exc` makes: its class's kind in the error tree (a store that
    failed is SYSTEM; a store object gone or altered, a value of the wrong type, a malformed
    graph are DATA); for an error of no kind of its own, USER when user code raised it, DATA
    when graft's own code did (no try can succeed)."""
    kind = exc.kind if isinstance(exc, GraftError) else None
    if kind is not None:
        return kind
    return FailureKind.USER if user_code else FailureKind.DATA


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is graft's infrastructure failing (SYSTEM by the error tree): another
    try may not meet it, so whoever applies a message tries again rather than refuse it."""
    return isinstance(exc, GraftError) and exc.kind == FailureKind.SYSTEM


def failure_of(exc: BaseException, kind: FailureKind | None = None,
               skip_frames: int = 0) -> Failure:
    """A `Failure` from an exception (of `kind`, else as `failure_kind` classifies it outside
    user code), with its traceback minus graft's own `skip_frames` outermost frames."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return Failure(kind or failure_kind(exc), type(exc).__name__, str(exc),
                   "".join(traceback.format_exception(type(exc), exc, tb)))


def process_ended(where: str, why: str, *, exitcode: int | None = None, cause: str = "",
                  timeout_s: float | None = None, used: str = "", limit: str = "") -> Failure:
    """The failure of an attempt (`where`: "attempt 2 of node 'n'") whose process ended before
    it reported. `why` says who ended it:

    - "timeout": graft, past the task's timeout (`timeout_s`): USER, retried per `retries`;
    - "memory": graft's memory watch, having seen it use `used`, over `limit`: USER;
    - "terminated": an operator (Flower's Terminate, `revoke --terminate`): DATA, never
      retried;
    - "died": nothing graft did. Ending with an exit code (`exitcode` >= 0) is the task's own
      doing (it called exit, or crashed the interpreter): USER. Death by a signal came from
      outside (the kernel's out-of-memory killer, an operator): SYSTEM; with a memory
      `limit` watched and not reached, a SIGKILL is the kernel's OOM killer, most likely. An
      unknown `exitcode` (None) is told by `cause`, the text the process's parent gave.
    """
    process = f"the process running {where}"
    if why == "timeout":
        return Failure(FailureKind.USER, "TaskTimeout", f"{where} ran past its timeout of "
                       f"{timeout_s or 0:g} s and was stopped")
    if why == "memory":
        return Failure(FailureKind.USER, "OutOfMemory", f"{where} used {used}, over its memory "
                       f"limit of {limit}, and was stopped; raise its limits "
                       f"(Resources(mem=...))")
    if why == "terminated":
        return Failure(FailureKind.DATA, "Terminated", f"{where} was terminated by an operator "
                       f"(Flower's Terminate, or celery control revoke --terminate)")
    if exitcode is not None and exitcode >= 0:
        return Failure(FailureKind.USER, "WorkerLost", f"{process} exited with code {exitcode} "
                       f"before reporting (the task called exit, or crashed the interpreter)")
    if exitcode == -signal.SIGKILL and limit:
        return Failure(FailureKind.SYSTEM, "OutOfMemory", f"{process} was killed (SIGKILL): "
                       f"the kernel's out-of-memory killer, most likely, with its memory limit "
                       f"{limit} not reached")
    if exitcode is not None:
        return Failure(FailureKind.SYSTEM, "WorkerLost",
                       f"{process} was killed by signal {-exitcode}")
    return Failure(FailureKind.SYSTEM, "WorkerLost", f"{process} was killed before reporting "
                   f"({cause}): the kernel's out-of-memory killer, an operator, or a crash")
