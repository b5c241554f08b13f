"""pydantic v2 models as task inputs and outputs, in-process: nested models, Optional fields,
lists and dicts, aliases and validators, fields of graft's File, Directory and
StructuredDataset (stored by content), a model containing itself, cache keys by content, and
errors that name the field."""

from __future__ import annotations

import os
import subprocess
import sys
import typing

import pytest
from workflows import basemodels as bm

from sdk import CompileError, TypeConversionError, workflow
from sdk.values.handlers import decode, describe, encode, parse_text, store_keys
from sdk.values.store import MemoryStore


def test_nested_models_optional_fields_lists_and_dicts_round_trip():
    shape, text, plus, cx = bm.shape_wf(n=3)
    assert isinstance(shape, bm.Shape) and shape.name == "shape3"
    assert [p.x for p in shape.points] == [0, 1, 2, 10]
    assert shape.points[1] == bm.Point(x=1, y=0.5) and shape.center == bm.Point(x=3)
    assert shape.weights == {3: "n", 0: "zero"}  # int keys come back as ints
    assert text == "shape3 [0, 1, 2, 10] center=3 weights=[(0, 'zero'), (3, 'n')] " \
                   "made=2024-01-02T03:04:05"
    assert (plus, cx) == (11, 1)  # `s.points[3].x` and `s.points[1]` read in the workflow


def test_the_literal_holds_each_fields_literal_by_name():
    store = MemoryStore()
    shape = bm.Shape(label="s", points=[bm.Point(x=1)], weights={2: "b"})
    desc = describe(bm.Shape)
    assert desc["t"] == "basemodel" and desc["ref"] == "workflows.basemodels:Shape"
    assert desc["fields"]["points"] == {"t": "list", "of": describe(bm.Point)}
    lit = encode(shape, desc, store, "out")
    assert lit["name"] == "s" and lit["center"] is None
    assert lit["points"] == [{"x": 1, "y": 0.0}] and lit["weights"] == {"2": "b"}
    assert decode(lit, desc, store, "in") == shape


def test_file_directory_and_table_fields_travel_by_content():
    bundle, text = bm.bundle_wf(text="hello")
    assert text == ("[1, 2, 3] ndarray[3, 2] hello ['readme', 't.parquet'] None "
                    "['note 0', 'note 1']")
    with open(bundle.report) as fh:
        assert fh.read() == "hello"
    assert sorted(os.listdir(bundle.folder)) == ["readme", "t.parquet"]
    assert bundle.table.open(bm.pd.DataFrame).all()["s"].tolist() == ["a", "b", "c"]
    lit = encode(bundle, describe(bm.Bundle), MemoryStore(), "out")
    assert lit["report"]["key"].startswith("blobs/") and lit["report"]["name"] == "report.txt"
    assert sorted(lit["folder"]["files"]) == ["readme", "t.parquet"]
    assert lit["table"]["format"] == "parquet" and lit["extra"] is None
    keys = set(store_keys(lit, describe(bm.Bundle)))
    assert lit["report"]["key"] in keys and lit["table"]["key"] in keys
    assert set(lit["folder"]["files"].values()) <= keys


def test_a_model_that_contains_itself():
    assert bm.tree_wf(depth=3) == 3 + 2 + 102 + 1 + 101
    desc = describe(bm.Node)
    assert desc["fields"]["children"] == {"t": "list", "of": {"t": "basemodel",
                                                              "ref": "workflows.basemodels:Node"}}


def test_a_wrong_field_is_named():
    with pytest.raises(TypeConversionError, match=r"output 'o0' of task 'bad_field'.*field "
                                                  r"'points': expected List\[Point\], got str"):
        bm.bad_field()
    with pytest.raises(TypeConversionError, match=r"expected Shape, got Point"):
        bm.wrong_model()
    with pytest.raises(TypeConversionError, match=r"in: Point refuses the stored value "
                                                  r"\(field 'x': Input should be a valid "
                                                  r"integer"):
        decode({"x": "one"}, describe(bm.Point), MemoryStore(), "in")


def test_a_stored_value_the_models_validators_refuse_is_named():
    desc, store = describe(bm.Shape), MemoryStore()
    lit = encode(bm.Shape(label="s", points=[]), desc, store, "out")
    with pytest.raises(TypeConversionError, match=r"in: Shape refuses the stored value "
                                                  r"\(field 'name': Value error, a shape "
                                                  r"needs a name\)"):
        decode({**lit, "name": " "}, desc, store, "in")


def test_a_model_does_not_bind_to_another_model():
    @workflow
    def wf() -> int:
        return bm.center_x(p=bm.make_shape(n=1))

    with pytest.raises(CompileError, match="is Shape, which does not fit Point"):
        wf()


def test_cache_keys_hash_the_content_of_file_fields():
    bm.calls.clear()
    assert bm.cached_doc_wf(text="same words") == 10
    assert bm.cached_doc_wf(text="same words") == 10  # another path, the same content
    assert bm.calls == ["t"]
    assert bm.cached_doc_wf(text="other words") == 11
    assert bm.calls == ["t", "t"]


def test_the_command_line_takes_the_models_json():
    value = parse_text('{"label": "cli", "points": [{"x": 1}]}', describe(bm.Shape))
    assert value == bm.Shape(label="cli", points=[bm.Point(x=1)])
    with pytest.raises(ValueError, match="expected the JSON of a Shape"):
        parse_text('{"points": 3}', describe(bm.Shape))


def test_graft_value_classes_are_fields_pydantic_understands(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("x")
    doc = bm.Doc(title="t", body=str(path))  # a path becomes a File
    assert isinstance(doc.body, bm.FlyteFile) and doc.body.path == str(path)
    assert doc.model_dump(mode="json") == {"title": "t", "body": str(path)}
    assert bm.Doc.model_json_schema()["properties"]["body"]["type"] == "string"
    with pytest.raises(ValueError, match="expected File or a path, got int"):
        bm.Doc(title="t", body=3)


def test_graft_imports_without_pydantic():
    code = ("import sys; sys.modules['pydantic'] = None; import sdk; from sdk import task\n"
            "@task\ndef t(x: int) -> int:\n    return x\nprint(t(x=2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "2"
    assert typing.get_type_hints(bm.Doc)["title"] is str
