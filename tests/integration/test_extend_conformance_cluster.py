"""The flytesnacks examples that extend flytekit (custom types, StructuredDataset encoders,
a task class, a workflow decorator reading the compilation state, Resources with
ephemeral_storage) give flytekit's recorded results on the cluster too.

Runs when the conformance data (tests/conformance: the converted examples and flytekit's
outputs) is in the checkout; the cases are submitted to the cluster and their results encoded
and compared as the conformance suite compares in-process results.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
MODULES = ["extending_custom_types", "data_types_and_io_structured_dataset",
           "extending_user_container", "advanced_composition_decorating_workflows",
           "productionizing_customizing_resources"]


def _cases() -> list[tuple[str, dict]]:
    if not (CONFORMANCE / "cases.json").exists():
        return []
    cases = json.loads((CONFORMANCE / "cases.json").read_text())["examples"]
    return [(e["module"], c) for e in cases if e["module"] in MODULES for c in e["cases"]]


@pytest.fixture(scope="module")
def casefmt():
    sys.path[:0] = [str(CONFORMANCE), str(CONFORMANCE / "examples")]
    try:
        yield importlib.import_module("casefmt")
    finally:
        sys.path.remove(str(CONFORMANCE))
        sys.path.remove(str(CONFORMANCE / "examples"))


@pytest.mark.skipif(not _cases(), reason="no conformance data (tests/conformance) here")
@pytest.mark.parametrize(("module", "case"), _cases(),
                         ids=[f"{m}-{c['name']}" for m, c in _cases()])
def test_an_extending_example_gives_flytekits_result_on_the_cluster(cluster, casefmt, module,
                                                                    case):
    pytest.importorskip("tabulate")  # what the structured dataset example prints with
    example = importlib.import_module(module)
    for path, content in case.get("files", {}).items():
        Path(path).write_text(content)
    entity = getattr(example, case["call"])
    result = cluster.client().submit(entity, **casefmt.case_inputs(case, example))
    value = casefmt.encode_value(result.wait(timeout=240))
    recorded = casefmt.load_outputs()["examples"][module]["cases"][case["name"]]
    assert recorded["ok"]
    unstable = recorded.get("unstable", [])
    assert casefmt.without_paths({"value": value}, unstable) == \
        casefmt.without_paths({"value": recorded["value"]}, unstable)
