"""Iterators, lists pickled in batches, pydantic models (with File, Directory and
StructuredDataset fields) and tables opened as numpy arrays on a real cluster: the workers give
what the in-process runner gives, and the store holds the same objects."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from workflows import basemodels as bm
from workflows import iterators as it
from workflows import open_tables as ot

from sdk import ExecutionFailed
from sdk.types.iterator import FlyteIterator, JSONIterator
from sdk.values.handlers import describe, encode
from sdk.values.store import default_store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NAMES = ["thor", "hulk", "loki", "odin", "sif"]


def test_iterators_and_batched_lists_on_the_workers_as_in_process(cluster):
    client = cluster.client()
    runs = {
        "iter": client.submit(it.iterator_wf, n=4),
        "as_list": client.submit(it.iterator_as_list_wf, n=3),
        "json": client.submit(it.json_wf, n=2),
        "heroes": client.submit(it.heroes_wf, names=NAMES),
        "mixed": client.submit(it.mixed_wf),
        "shared": client.submit(it.shared_wf),
    }
    out = {name: ex.wait(timeout=240) for name, ex in runs.items()}

    got, total, described, from_list = out["iter"]
    assert isinstance(got, FlyteIterator) and list(got) == [0, 1, 4, 9] == list(got)
    local = it.iterator_wf(n=4)
    assert (total, described, from_list) == tuple(local[1:]) == (
        14, "FlyteIterator len=4 [0, 1, 4, 9] [0, 1, 4, 9]", "FlyteIterator len=2 [4, 5] [4, 5]")
    assert out["as_list"] == it.iterator_as_list_wf(n=3) == [0, 1, 4]

    rows, counted = out["json"]
    assert isinstance(rows, JSONIterator)
    assert list(rows) == list(it.json_wf(n=2)[0])
    assert counted == it.json_wf(n=2)[1]

    heroes, greetings, powers, fourth = out["heroes"]
    l_heroes, l_greetings, l_powers, l_fourth = it.heroes_wf(names=NAMES)
    assert heroes == l_heroes and list(greetings) == list(l_greetings)
    assert powers == l_powers == [n.upper() for n in NAMES] and fourth == l_fourth == "ODIN"
    # the worker pickled the heroes three to an object, as in-process: the same literal
    lit = runs["heroes"].node_outputs("heroes")["o0"]
    assert lit == encode(l_heroes, _batched_desc(), default_store(), "here")
    store = client.store
    batches = [pickle.loads(store.get(k)) for k in dict.fromkeys(i["pickle"] for i in lit)]
    assert [len(b) for b in batches] == [3, 2]

    assert out["mixed"] == it.mixed_wf()
    assert out["shared"] is True
    for ex in runs.values():
        assert ex.status() == "SUCCEEDED"


def _batched_desc() -> dict:
    from typing import Annotated, List

    from sdk import BatchSize

    return describe(Annotated[List[it.Hero], BatchSize(3)])


def test_a_generator_that_raises_fails_the_task_on_a_worker(cluster):
    ex = cluster.client().submit(it.broken_generator)
    with pytest.raises(ExecutionFailed) as info:
        ex.wait(timeout=120)
    (failure,) = info.value.failures
    assert (failure.error_type, failure.message) == ("RuntimeError",
                                                     "the generator broke after one item")


def test_pydantic_models_on_the_workers_as_in_process(cluster):
    client = cluster.client()
    runs = {
        "shape": client.submit(bm.shape_wf, n=3),
        "bundle": client.submit(bm.bundle_wf, text="hello"),
        "tree": client.submit(bm.tree_wf, depth=3),
        "numpy": client.submit(ot.numpy_open_wf),
    }
    out = {name: ex.wait(timeout=240) for name, ex in runs.items()}

    assert tuple(out["shape"]) == tuple(bm.shape_wf(n=3))
    shape = out["shape"][0]
    assert isinstance(shape, bm.Shape) and shape.weights == {3: "n", 0: "zero"}

    bundle, text = out["bundle"]
    local_bundle, local_text = bm.bundle_wf(text="hello")
    assert text == local_text == ("[1, 2, 3] ndarray[3, 2] hello ['readme', 't.parquet'] None "
                                  "['note 0', 'note 1']")
    with open(bundle.report) as fh:
        assert fh.read() == "hello"
    assert sorted(os.listdir(bundle.folder)) == ["readme", "t.parquet"]
    assert bundle.table.open(np.ndarray).all().tolist() == \
        local_bundle.table.open(np.ndarray).all().tolist()
    lit = runs["bundle"].node_outputs("make_bundle")["o0"]
    assert lit["report"] == encode(local_bundle, describe(bm.Bundle), default_store(),
                                   "here")["report"]  # by content: the same store object

    assert out["tree"] == bm.tree_wf(depth=3) == 209

    sd, text = out["numpy"]
    assert text == ot.numpy_open_wf()[1] == \
        "ndarray [[1.0, 0.5], [2.0, 1.5]] [[[1.0, 0.5], [2.0, 1.5]]]"
    assert sd.open(np.ndarray).all().tolist() == [[1.0, 0.5], [2.0, 1.5]]
    for ex in runs.values():
        assert ex.status() == "SUCCEEDED"


def test_a_models_cache_key_hashes_file_content_on_the_cluster(cluster):
    client = cluster.client()
    first = client.submit(bm.cached_doc_wf, text="cluster words")
    assert first.wait(timeout=120) == 13
    second = client.submit(bm.cached_doc_wf, text="cluster words")  # a new temp path
    assert second.wait(timeout=120) == 13
    nodes = {n.id: n for n in second.nodes()}
    assert nodes["doc_size"].cached and not nodes["make_doc"].cached


def test_a_wrong_model_field_is_named_on_a_worker(cluster):
    ex = cluster.client().submit(bm.bad_field)
    with pytest.raises(ExecutionFailed, match=r"field 'points': expected List\[Point\], "
                                              r"got str"):
        ex.wait(timeout=120)
