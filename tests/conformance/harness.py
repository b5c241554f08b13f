"""The conformance runner's shared half: the cases as pytest parameters, the cases graft cannot
pass yet (known_gaps.json), running an example's cases in-process, and judging a graft result
against flytekit's recorded one.

Used by tests/conformance/test_conformance.py (in-process, and the README's count) and by
tests/integration/test_conformance_cluster.py (the same cases on a real cluster, which needs the
integration fixtures). The data format is casefmt.py's (README.md beside this file).
"""

from __future__ import annotations

import builtins
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sdk.model import errors

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import casefmt  # noqa: E402
import graft_status  # noqa: E402

GAPS_FILE = HERE / "known_gaps.json"
README = HERE.parents[1] / "README.md"
SIDES = ("in_process", "cluster")

# Cases that run in-process only, besides those that answer prompts on stdin or set the
# caller's environment (see Case.cluster_skip), with the reason.
IN_PROCESS_ONLY = {
    # calls that are no graft entity, so there is nothing to submit
    "testing_mocking/main_1": "a plain function that patches a task with unittest.mock and "
                              "calls the workflow in this process",
    "testing_mocking/main_2": "a plain function that mocks a task with flytekit's task_mock "
                              "and calls the workflow in this process",
    # flytekit's record shows its local semantics, where Flyte's cluster behaves otherwise
    "advanced_composition_checkpoint/checkpointing_example":
        "flytekit recorded a local run, which ignores retries; on a cluster the task is "
        "retried and succeeds, as on Flyte",
    "basics_launch_plan/simple_wf_lp_fixed_inputs_override":
        "flytekit recorded a local call, which may override a fixed input; a cluster refuses "
        "it, as Flyte's admin does",
    # graft refuses a launch plan with notifications on a cluster without a mail server (the
    # suite's shared one has none); tests/integration/test_notifications_cluster.py submits
    # these on a cluster with one, compares the outputs with flytekit's and reads the mails
    **{f"productionizing_lp_notifications/{lp}":
       "a launch plan with notifications needs an SMTP server on the scheduler; "
       "test_notifications_cluster.py runs it on a cluster that has one"
       for lp in ("int_doubler_wf_lp", "int_doubler_wf_scheduled_lp", "wacky_int_doubler_lp")},
}


@dataclass(frozen=True)
class Case:
    """One recorded call: `spec` is its entry in cases.json, `flytekit` its record in
    flytekit_outputs.json."""

    module: str
    spec: dict
    flytekit: dict

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def id(self) -> str:
        return f"{self.module}/{self.name}"

    @property
    def cluster_skip(self) -> str | None:
        """Why this case runs in-process only (None: it runs on the cluster too)."""
        if self.id in IN_PROCESS_ONLY:
            return f"in-process only: {IN_PROCESS_ONLY[self.id]}"
        if "stdin" in self.spec:
            return ("in-process only: it answers gate prompts on standard input, which only "
                    "an in-process run reads")
        if "env" in self.spec:
            return ("in-process only: it sets the secrets in the caller's environment, which "
                    "the cluster's workers do not share")
        return None


def cases() -> list[Case]:
    """Every case of every kept example, in cases.json's order."""
    outputs = casefmt.load_outputs()["examples"]
    return [Case(ex["module"], spec, outputs[ex["module"]]["cases"][spec["name"]])
            for ex in casefmt.load_cases()["examples"] for spec in ex["cases"]]


def examples() -> list[str]:
    return [ex["module"] for ex in casefmt.load_cases()["examples"]]


# ---- known gaps -------------------------------------------------------------------------------


def load_gaps() -> dict[str, dict[str, str]]:
    """{side: {case id: the construct graft lacks}} for both sides, from known_gaps.json,
    whose "both" section applies in-process and on the cluster."""
    data = json.loads(GAPS_FILE.read_text())
    out: dict[str, dict[str, str]] = {}
    for side in SIDES:
        out[side] = {**data.get("both", {}), **data.get(side, {})}
    return out


def gap_sections() -> dict[str, dict[str, str]]:
    """known_gaps.json's sections as written ("both", "in_process", "cluster")."""
    data = json.loads(GAPS_FILE.read_text())
    return {k: v for k, v in data.items() if k in ("both", *SIDES)}


def params(side: str) -> list[Any]:
    """pytest parameters for `side`: a gap is xfail(strict=True), so a case that starts
    passing fails the suite until it leaves known_gaps.json. A case that can only run
    in-process (`Case.cluster_skip` says why) has no cluster test at all."""
    gaps = load_gaps()[side]
    out = []
    for case in cases():
        if side == "cluster" and case.cluster_skip:
            continue
        marks = []
        if case.id in gaps:
            marks.append(pytest.mark.xfail(strict=True, reason=f"graft lacks: {gaps[case.id]}"))
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def passing_examples() -> list[str]:
    """The examples none of whose cases is a known gap, on either side."""
    gaps = load_gaps()
    failing = {case.module for case in cases()
               if case.id in gaps["in_process"] or case.id in gaps["cluster"]}
    return [m for m in examples() if m not in failing]


def readme_sentence() -> str:
    """The README's count, as it must read."""
    return (f"{len(passing_examples())} of {len(examples())} flytesnacks examples that run "
            f"offline under flytekit run under graft with flytekit's outputs (in-process and "
            f"on the cluster)")


# ---- running ----------------------------------------------------------------------------------


def load_example(module: str) -> tuple[Any, dict]:
    """Import a converted example (once per process): (module or None, its import record)."""
    if str(casefmt.EXAMPLES) not in sys.path:
        sys.path.append(str(casefmt.EXAMPLES))
    if module in _imported:
        return _imported[module]
    _imported[module] = casefmt.import_example(module)
    return _imported[module]


_imported: dict[str, tuple[Any, dict]] = {}


class _Catching:
    """A module whose attribute `call` notes the exception it raises before it propagates."""

    def __init__(self, module: Any, call: str):
        self._module, self._call, self.raised = module, call, None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        if name != self._call:
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value(*args, **kwargs)
            except Exception as exc:
                self.raised = exc
                raise

        return call


def run_case(module: Any, spec: dict) -> dict:
    """casefmt.run_case (files, env, stdin, the call), its error carrying "bases"."""
    catching = _Catching(module, spec["call"])
    record = casefmt.run_case(catching, spec)
    if not record["ok"] and catching.raised is not None:
        record["error"]["bases"] = outcome_of_exception(catching.raised)["error"]["bases"]
    return record


def import_failure(record: dict) -> dict:
    """A failed import as the outcome of each of the example's cases."""
    return {"ok": False, "error": record["error"], "import_failed": True}


def outcome_of_exception(exc: BaseException) -> dict:
    """The record of a raised exception, with the names of its classes ("bases": what an
    `except` clause may name to catch it)."""
    error = casefmt.encode_exception(exc)
    error["bases"] = [c.__name__ for c in type(exc).__mro__]
    return {"ok": False, "error": error}


def outcome_of_failed_execution(exc: Any) -> dict:
    """The record of a cluster execution that ended FAILED (`ExecutionFailed`): its first failed
    node's exception, as a Flyte console or FlyteRemote shows a failed execution (the node's
    error type and message; no Python exception crosses from the cluster to the caller). The
    class's bases are known when it is a builtin or a graft error; a user's class is matched by
    its name."""
    failures = [f for f in exc.failures if f.node_id] or list(exc.failures)
    if not failures:
        return outcome_of_exception(exc)
    first = failures[0]
    cls = getattr(builtins, first.error_type, None) or getattr(errors, first.error_type, None)
    known = isinstance(cls, type) and issubclass(cls, BaseException)
    error = {"type": first.error_type, "message": first.message,
             "module": cls.__module__ if known else "",
             "chain": [{"type": first.error_type, "message": first.message}],
             "bases": [c.__name__ for c in cls.__mro__] if known else [first.error_type],
             "node": first.node_id}
    return {"ok": False, "error": error}


def outcome_of_value(value: Any) -> dict:
    return {"ok": True, "value": casefmt.encode_value(value)}


# ---- judging ----------------------------------------------------------------------------------


def _type_names(err: dict) -> set[str]:
    """The raised exception's class name and its base classes' names: an `except` clause
    naming any of them catches it."""
    return {err["type"], *err.get("bases", [])}


_FLYTE_PREFIX = re.compile(r"^[A-Z]+:\w+: error=")


def user_message(err: dict) -> str:
    """The user's own message in a flytekit error: its last line (flytekit puts "Error
    encountered while executing '<task>':" before it), without a "USER:Kind: error=" prefix."""
    lines = [x.strip() for x in (err.get("message") or "").splitlines() if x.strip()]
    return _FLYTE_PREFIX.sub("", lines[-1] if lines else "")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def mismatch(case: Case, graft: dict) -> str | None:
    """Why graft's outcome is not flytekit's (None: the same).

    The import must have succeeded and `ok` must match. Values: equal as JSON (an int is not
    a float) once the paths flytekit's record marks unstable are masked. Errors: graft's
    exception must be of flytekit's type (that class or a subclass of a class of that name,
    so that the same `except` catches it); for a builtin exception the user's message must
    appear in graft's message or in one of its causes'.
    """
    flyte = case.flytekit
    if graft.get("import_failed"):
        return f"the example does not import under graft: {graft_status.short(graft['error'])}"
    if flyte["ok"] != graft["ok"]:
        return graft_status.difference(flyte, graft)
    if flyte["ok"]:
        unstable = [p.removeprefix("/value") for p in casefmt.unstable(flyte)]
        a = casefmt.without_paths(flyte["value"], unstable)
        b = casefmt.without_paths(graft["value"], unstable)
        if _canonical(a) == _canonical(b):
            return None
        return graft_status.difference(flyte, graft) or "the values differ (int / float?)"
    f_err, g_err = flyte["error"], graft["error"]
    if f_err["type"] not in _type_names(g_err):
        return f"flytekit raised {f_err['type']}, graft {graft_status.short(g_err)}"
    if f_err.get("module") == "builtins":
        wanted = _squash(user_message(f_err))
        said = _squash(" ".join([g_err.get("message") or ""]
                                + [c.get("message") or "" for c in g_err.get("chain", [])]))
        if wanted not in said:
            return (f"graft raised {g_err['type']} as flytekit did, but without the user's "
                    f"message {wanted!r}: {graft_status.short(g_err)}")
    return None


def check(case: Case, graft: dict) -> None:
    """Fail the test, saying how graft's outcome differs from flytekit's."""
    why = mismatch(case, graft)
    if why is not None:
        pytest.fail(f"{case.id}: {why}", pytrace=False)
