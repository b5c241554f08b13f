"""graft runs Flyte's own examples on a cluster and returns what flytekit returned for the same
calls: the cluster half of the conformance suite (tests/conformance, where the in-process half,
the cases and the known gaps are).

On one state backend only (SQLite: the examples test graft's flytekit surface, which the
backend does not change). Every case is submitted at once when the module starts, so the
workers run them side by side; each test then waits for its own execution, up to one shared
deadline, and compares.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from conformance import harness

from sdk import ExecutionFailed

casefmt = harness.casefmt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True),
]

# every execution of the module ends within this many seconds of the last submission
BUDGET_S = 150.0


class Submitted:
    """The module's executions ({case id: Execution, or the exception submitting raised}) and
    the deadline they share."""

    def __init__(self, runs: dict, deadline: float):
        self.runs = runs
        self.deadline = deadline

    def outcome(self, case: harness.Case) -> dict:
        run = self.runs[case.id]
        if isinstance(run, dict):  # the example did not import
            return run
        if isinstance(run, BaseException):
            return harness.outcome_of_exception(run)
        try:
            value = run.wait(timeout=max(1.0, self.deadline - time.monotonic()))
        except ExecutionFailed as exc:  # compared as the failed node's error
            return harness.outcome_of_failed_execution(exc)
        except TimeoutError as exc:
            run.cancel("the conformance suite's deadline passed")
            return harness.outcome_of_exception(exc)
        except Exception as exc:  # the case's outcome, compared with flytekit's
            return harness.outcome_of_exception(exc)
        return harness.outcome_of_value(value)


def _submit(client, case: harness.Case) -> object:
    module, record = harness.load_example(case.module)
    if module is None:
        return harness.import_failure(record)
    for path, content in case.spec.get("files", {}).items():
        Path(path).write_text(content)
    try:
        entity = getattr(module, case.spec["call"])
        return client.submit(entity, inputs=casefmt.case_inputs(case.spec, module))
    except Exception as exc:  # a refusal at submission is the case's outcome
        return exc


@pytest.fixture(scope="module")
def submitted(cluster_session, tmp_path_factory):
    """Every case that runs on the cluster, submitted with GRAFT_STORE at the cluster's store
    from a scratch working directory; unfinished executions are cancelled at the end."""
    client = cluster_session.client()
    runs: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAFT_STORE", cluster_session.store_url)
        mp.chdir(tmp_path_factory.mktemp("conformance-cluster"))
        for case in harness.cases():
            if not case.cluster_skip:
                runs[case.id] = _submit(client, case)
    result = Submitted(runs, time.monotonic() + BUDGET_S)
    yield result
    for run in runs.values():
        if hasattr(run, "cancel"):
            with contextlib.suppress(Exception):
                run.cancel("the conformance suite ended")


@pytest.mark.parametrize("case", harness.params("cluster"))
def test_on_the_cluster(case: harness.Case, cluster, submitted):
    harness.check(case, submitted.outcome(case))
