"""flytekit's extension API on the cluster: a user's TypeTransformer, StructuredDataset encoder
and decoder, and task class are found on the workers (which import the modules that register
them from the code bundles) and give what they give in-process."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd
import pytest
from workflows import extend_tasks, extend_types

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

extend_tables: Any = None  # imported by `_tables` once these tests run


@pytest.fixture(autouse=True, scope="module")
def _tables() -> None:
    """Import the numpy handlers' module when these tests run, not when pytest collects them:
    its registration holds for the whole process and would change how np.ndarray travels in
    the tests that run before (tests/unit/test_extend_tables.py says more)."""
    global extend_tables
    extend_tables = importlib.import_module("workflows.extend_tables")


def _submit_all(cluster, path: str) -> dict:
    client = cluster.client()
    return {
        "folder": client.submit(extend_types.folder_wf, n=3),
        "money": client.submit(extend_types.money_wf, cents=[150, 275]),
        "note": client.submit(extend_types.note_wf, text="hi"),
        "context": client.submit(extend_types.context_wf),
        "numpy": client.submit(extend_tables.numpy_wf),
        "csv": client.submit(extend_tables.csv_wf),
        "nested": client.submit(extend_tables.nested_wf),
        "sensed": client.submit(extend_tasks.sensed, path=path),
        "split": client.submit(extend_tasks.split_wf, text="a,b,c"),
    }


def test_extensions_run_on_the_workers_as_in_process(cluster, tmp_path):
    path = tmp_path / "some-file"
    path.write_text("Hello World!")
    runs = _submit_all(cluster, str(path))
    out = {name: ex.wait(timeout=180) for name, ex in runs.items()}

    assert out["folder"] == extend_types.folder_wf(n=3) == \
        "x0=contents 0;x1=contents 1;x2=contents 2"
    assert out["money"] == extend_types.money_wf(cents=[150, 275]) == \
        ("Money 425 EUR", extend_types.Money(150, "EUR"))
    assert out["note"].text == extend_types.note_wf(text="hi").text == "HI!"

    facts = out["context"]
    assert facts["same_params"] == "True" and facts["node"] == "context_facts"
    assert facts["copied"] == "a" and facts["mode"] == "TASK_EXECUTION"  # on a worker

    sd, shape = out["numpy"]
    assert shape == [1, 2]
    assert sd.open(np.ndarray).all().tolist() == [["Tom", "Joseph"]]
    local_sd, _ = extend_tables.numpy_wf()
    assert sd.literal == local_sd.literal  # the same content, the same literal

    csv_sd, ages = out["csv"]
    assert ages == [19, 22] and csv_sd.literal["format"] == "csv"
    pd.testing.assert_frame_equal(csv_sd.open(pd.DataFrame).all(),
                                  extend_tables.csv_wf()[0].open(pd.DataFrame).all())

    tels, columns = out["nested"]
    assert tels.to_dict("list") == {"tel": ["1", "2"]} and columns == ["email", "tel"]

    assert out["sensed"] == "Hello World!"
    assert out["split"] == extend_tasks.split_wf(text="a,b,c") == ("A", ["b", "c"])
    for ex in runs.values():
        assert ex.status() == "SUCCEEDED"
    [sensor_node] = [n for n in runs["sensed"].nodes() if n.task == "my-objectstore-sensor"]
    assert sensor_node.state == "SUCCEEDED"
