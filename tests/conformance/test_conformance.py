"""graft runs Flyte's own examples (flytesnacks, converted to `sdk`) in-process and returns what
flytekit 1.16 returned for the same calls (flytekit_outputs.json).

An example's cases run in cases.json's order in this process, the first time one of them is
tested, in a fresh working directory and HOME, as the recorder ran them. The same cases run
on a cluster in tests/integration/test_conformance_cluster.py. A case graft cannot pass yet is
listed in known_gaps.json and expected to fail (strictly: once it passes, the suite fails until
it leaves the list).
"""

from __future__ import annotations

import json

import pytest
from conformance import graft_status, harness

from sdk import ExecutionFailed, NodeFailure

casefmt = harness.casefmt

pytestmark = pytest.mark.timeout(180)

# module -> {case name: outcome}, filled one example at a time
_outcomes: dict[str, dict[str, dict]] = {}


def _run_example(module_name: str) -> dict[str, dict]:
    module, record = harness.load_example(module_name)
    ex = next(e for e in casefmt.load_cases()["examples"] if e["module"] == module_name)
    if module is None:
        return {spec["name"]: harness.import_failure(record) for spec in ex["cases"]}
    return {spec["name"]: harness.run_case(module, spec) for spec in ex["cases"]}


@pytest.mark.parametrize("case", harness.params("in_process"))
def test_in_process(case: harness.Case, tmp_path, monkeypatch):
    if case.module not in _outcomes:
        work, home = tmp_path / "work", tmp_path / "home"
        work.mkdir()
        home.mkdir()
        monkeypatch.chdir(work)
        monkeypatch.setenv("HOME", str(home))
        _outcomes[case.module] = _run_example(case.module)
    harness.check(case, _outcomes[case.module][case.name])


def test_every_known_gap_names_a_case():
    ids = {case.id for case in harness.cases()}
    for section, gaps in harness.gap_sections().items():
        stale = sorted(set(gaps) - ids)
        assert not stale, f"known_gaps.json {section!r} names no case of cases.json: {stale}"
        assert all(isinstance(v, str) and v for v in gaps.values()), section
    sections = harness.gap_sections()
    doubled = set(sections.get("both", {})) & (set(sections.get("in_process", {}))
                                               | set(sections.get("cluster", {})))
    assert not doubled, f"listed under 'both' and under one side: {sorted(doubled)}"


def test_in_process_only_cases_are_not_listed_as_cluster_gaps():
    gaps = harness.gap_sections().get("cluster", {})
    skipped = [case.id for case in harness.cases() if case.cluster_skip and case.id in gaps]
    assert not skipped, f"these never run on the cluster; remove them from 'cluster': {skipped}"


def test_every_case_has_flytekits_record():
    recorded = casefmt.load_outputs()["examples"]
    for ex in casefmt.load_cases()["examples"]:
        assert recorded[ex["module"]]["import"]["ok"], ex["module"]
        assert [c["name"] for c in ex["cases"]] == list(recorded[ex["module"]]["cases"])


def test_the_readme_counts_the_examples_graft_passes():
    """The sentence in the README next to the Flyte-equivalents table says how many examples
    pass entirely (every case, in-process and on the cluster), computed from known_gaps.json."""
    sentence = harness.readme_sentence()
    text = " ".join(harness.README.read_text().split())
    assert sentence in text, (
        f"README.md should say: {sentence!r} (known_gaps.json changed; update the count)")


def test_known_gaps_json_is_tidy():
    """Sorted keys and one indentation, so that taking a case off the list is a one-line diff."""
    text = harness.GAPS_FILE.read_text()
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"


def _case(flytekit: dict) -> harness.Case:
    return harness.Case("m", {"name": "c", "call": "c"}, flytekit)


def test_the_judge_tells_an_int_from_a_float_and_masks_unstable_paths():
    case = _case({"ok": True, "value": [1, {"$file": {"name": "tmp1"}}],
                  "unstable": ["/value/1/$file/name"]})
    assert harness.mismatch(case, {"ok": True, "value": [1, {"$file": {"name": "tmp2"}}]}) is None
    assert harness.mismatch(case, {"ok": True, "value": [1.0, {"$file": {"name": "tmp1"}}]})


def test_the_judge_leaves_the_bytes_of_parquet_files_out_and_compares_the_rest():
    def value(parquet: str, csv: str, single: str) -> list:
        files = {"df.parquet": {"sha256": parquet, "size": 10}, "a.csv": {"sha256": csv,
                                                                        "size": 3}}
        return [{"$dir": {"files": files}}, {"$file": {"name": "t.parquet", "sha256": single,
                                                       "size": 9}}]

    case = _case({"ok": True, "value": value("p1", "c1", "s1")})
    assert harness.mismatch(case, {"ok": True, "value": value("p2", "c1", "s2")}) is None
    assert harness.mismatch(case, {"ok": True, "value": value("p1", "c2", "s1")})
    assert graft_status.compare(case.flytekit, {"ok": True, "value": value("p2", "c1", "s2")}) \
        == "same"


def test_the_judge_wants_flytekits_exception_type_and_the_users_message():
    flyte_err = {"type": "ValueError", "module": "builtins", "chain": [],
                 "message": "Error encountered while executing 'wf.t1':\n  Fail!"}
    case = _case({"ok": False, "error": flyte_err})

    class TaskFailed(ValueError):
        pass

    def outcome(exc: BaseException) -> dict:
        return harness.outcome_of_exception(exc)

    assert harness.mismatch(case, outcome(ValueError("t1 failed: Fail!"))) is None
    assert harness.mismatch(case, outcome(TaskFailed("Fail!"))) is None  # `except ValueError`
    assert "without the user's message" in harness.mismatch(case, outcome(ValueError("no")))
    assert "flytekit raised ValueError" in harness.mismatch(case, outcome(RuntimeError("Fail!")))
    assert harness.mismatch(case, harness.outcome_of_value(1))


def test_the_cluster_judge_compares_the_failed_nodes_error():
    flyte_err = {"type": "ValueError", "module": "builtins", "chain": [],
                 "message": "Error encountered while executing 'wf.t1':\n  Fail!"}
    case = _case({"ok": False, "error": flyte_err})

    def failed(error_type: str, message: str) -> dict:
        nodes = [NodeFailure("t1", "wf.t1", error_type, message),
                 NodeFailure("handler", "wf.clean_up", "KeyError", "later")]
        return harness.outcome_of_failed_execution(ExecutionFailed("e1", nodes))

    assert harness.mismatch(case, failed("ValueError", "Fail!")) is None
    assert harness.mismatch(case, failed("ConditionalFailed", "Fail!")) is None  # a ValueError
    assert "flytekit raised ValueError" in harness.mismatch(case, failed("KeyError", "Fail!"))
    assert "without the user's message" in harness.mismatch(case, failed("ValueError", "no"))
    user = _case({"ok": False, "error": {"type": "OutlierError", "module": "wf", "chain": [],
                                         "message": "x"}})
    assert harness.mismatch(user, failed("OutlierError", "x")) is None
