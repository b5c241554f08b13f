"""Whether a failed attempt gets another try, and after how long (`RetryPolicy`)."""

from __future__ import annotations

from dataclasses import dataclass

from sdk.model.report import FailureKind
from sdk.model.runs import NodeRun


@dataclass(frozen=True)
class RetryPolicy:
    """How SYSTEM failures are retried: up to `system_retries` more attempts, each released
    after `backoff_s(n)` seconds (doubling from `backoff_base_s`, at most `backoff_max_s`);
    drivers add jitter. USER failures follow the task's own `retries`, unless
    `user_retries` is False (the in-process runner: flytekit's local runs do not retry);
    DATA failures are never retried."""

    system_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    user_retries: bool = True

    def backoff_s(self, failures: int) -> float:
        """The delay before the attempt that follows the `failures`-th system failure."""
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, failures - 1))

    def another_try(self, run: NodeRun, kind: FailureKind) -> bool:
        """Count a failed attempt of `run` by its `kind` and say whether another may follow:
        a USER failure while the task's `retries` allow (at once; never without
        `user_retries`), a SYSTEM failure while `system_retries` do (after `backoff_s`, set
        as `run.retry_delay_s`), a DATA failure never (nothing is counted)."""
        if kind == FailureKind.USER:
            run.user_failures += 1
            run.retry_delay_s = 0.0
            return self.user_retries and run.user_failures <= run.spec.retries
        if kind == FailureKind.SYSTEM:
            run.system_failures += 1
            run.retry_delay_s = self.backoff_s(run.system_failures)
            return run.system_failures <= self.system_retries
        return False

    def retries_left(self, run: NodeRun) -> dict[str, int]:
        """How many more attempts a failure of each retried kind would give `run` now (what
        its task message tells the worker, so monitors show a failure to retry as RETRY)."""
        user = run.spec.retries if self.user_retries else 0
        return {FailureKind.USER.value: max(0, user - run.user_failures),
                FailureKind.SYSTEM.value: max(0, self.system_retries - run.system_failures)}
