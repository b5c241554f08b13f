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
from dataclasses import dataclass

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


NEAR_LIMIT = 0.9  # a task last seen using this share of its memory limit was at its limit


@dataclass(frozen=True)
class KillEvidence:
    """What the process watching a task's process knows of its death by a signal: how many
    processes the kernel's out-of-memory killer ended while the attempt ran, by the count
    of the worker's cgroup and by the whole machine's (None: that count could not be read),
    and the last resident bytes graft sampled of it, against the limit it held it to."""

    cgroup_oom_kills: int | None = None
    machine_oom_kills: int | None = None
    last_bytes: int = 0
    limit_bytes: int | None = None

    def counted(self) -> bool:
        """Whether the kernel's out-of-memory kills could be counted at all."""
        return self.cgroup_oom_kills is not None or self.machine_oom_kills is not None

    def oom_killed(self) -> bool:
        """Whether the kernel's out-of-memory killer ended it: by the most specific count
        read (with the worker's cgroup counting none, a kill elsewhere on the machine was
        another process's); with no count, whether graft last saw it at its limit."""
        if self.cgroup_oom_kills is not None:
            return self.cgroup_oom_kills > 0
        if self.machine_oom_kills is not None:
            return self.machine_oom_kills > 0
        limit = self.limit_bytes or 0
        return limit > 0 and self.last_bytes >= NEAR_LIMIT * limit

    def counts(self) -> str:
        """The counts that rose, for a message ("oom_kill +1 in the worker's cgroup")."""
        rose = []
        if self.cgroup_oom_kills:
            rose.append(f"+{self.cgroup_oom_kills} in the worker's cgroup")
        if self.machine_oom_kills:
            rose.append(f"+{self.machine_oom_kills} on the machine")
        return "oom_kill " + ", ".join(rose)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.0f} MiB"


def process_ended(where: str, why: str, *, exitcode: int | None = None, cause: str = "",
                  timeout_s: float | None = None, used: str = "", limit: str = "",
                  evidence: KillEvidence | None = None) -> Failure:
    """The failure of an attempt (`where`: "attempt 2 of node 'n'") whose process ended before
    it reported. `why` says who ended it:

    - "timeout": graft, past the task's timeout (`timeout_s`): USER, retried per `retries`;
    - "memory": graft's memory watch, having seen it use `used`, over `limit`: USER;
    - "terminated": an operator (Flower's Terminate, `revoke --terminate`): DATA, never
      retried;
    - "died": nothing graft did. Ending with an exit code (`exitcode` >= 0) is the task's own
      doing (it called exit, or crashed the interpreter): USER. Death by a signal came from
      outside graft (an operator, another program, the task itself, the kernel): SYSTEM,
      `WorkerLost` naming the signal; `OutOfMemory` only for a SIGKILL that `evidence` shows
      the kernel's out-of-memory killer dealt (`KillEvidence.oom_killed`). An unknown
      `exitcode` (None) is told by `cause`, the text the process's parent gave.
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
    if exitcode is None:
        return Failure(FailureKind.SYSTEM, "WorkerLost", f"{process} was killed before "
                       f"reporting ({cause}): the kernel's out-of-memory killer, an operator, "
                       f"or a crash")
    last = ""  # graft's last memory sample of it
    if evidence is not None and evidence.last_bytes and limit:
        last = _mib(evidence.last_bytes)
    if exitcode == -signal.SIGKILL and evidence is not None and evidence.oom_killed():
        if not evidence.counted():
            return Failure(FailureKind.SYSTEM, "OutOfMemory", f"{process} was killed (SIGKILL) "
                           f"using {last} of its memory limit of {limit}: the kernel's "
                           f"out-of-memory killer, most likely (its oom_kill counts could not "
                           f"be read)")
        seen = f", last seen using {last} of its limit of {limit}" if last else ""
        return Failure(FailureKind.SYSTEM, "OutOfMemory", f"{process} was killed by the "
                       f"kernel's out-of-memory killer (SIGKILL; {evidence.counts()} while it "
                       f"ran){seen}: the machine or the worker's cgroup ran short of memory")
    seen = f", which last saw it use {last} of its limit of {limit}" if last else ""
    nor = ""
    if exitcode == -signal.SIGKILL and evidence is not None and evidence.counted():
        nor = ", nor by the kernel's out-of-memory killer (no oom_kill counted while it ran)"
    return Failure(FailureKind.SYSTEM, "WorkerLost", f"{process} ended before reporting. "
                   f"Killed by {_signal_name(-exitcode)}; not by graft's memory watch{seen}"
                   f"{nor}")
