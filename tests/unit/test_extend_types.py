"""Extending the type system with flytekit's API (`sdk.extend`): a registered TypeTransformer
converts its type in-process, its blobs go into graft's store by content, and flytekit's
context and literal models behave as flytekit's."""

from __future__ import annotations

import datetime
import json
import os
import typing

import pytest
from workflows import extend_types as ex

from sdk import (
    FlyteContextManager,
    Literal,
    LiteralType,
    Scalar,
    TypeConversionError,
    task,
    workflow,
)
from sdk.core.type_engine import TypeEngine, TypeTransformer, TypeTransformerFailedError
from sdk.models.literals import LiteralCollection, Primitive
from sdk.models.types import SimpleType
from sdk.values.handlers import describe
from sdk.values.store import default_store


def test_a_registered_transformer_converts_its_type_between_tasks():
    assert ex.folder_wf(n=3) == "x0=contents 0;x1=contents 1;x2=contents 2"
    folder = ex.make_folder(n=2)
    assert isinstance(folder, ex.Folder) and folder.read() == {"x0": "contents 0",
                                                               "x1": "contents 1"}


def test_the_descriptor_names_the_class_the_transformer_and_its_literal_type():
    assert describe(ex.Folder) == {
        "t": "flyte", "ref": "workflows.extend_types:Folder", "transformer": "folder-transform",
        "literal_type": {"blob": {"format": "binary", "dimensionality": 1}}}
    # a subclass goes to its base class's transformer, as flytekit's MRO lookup does
    assert describe(ex.Euro)["transformer"] == "money"
    assert describe(typing.List[ex.Money]) == {"t": "list", "of": describe(ex.Money)}


def test_blobs_are_stored_by_content_and_the_raw_output_is_removed(tmp_path):
    store = default_store()
    folder = ex.Folder(str(tmp_path / "src"))
    os.makedirs(folder.base_dir)
    folder.write("a", "1")
    from sdk.values.handlers import encode

    desc = describe(ex.Folder)
    first = encode(folder, desc, store, "here")
    second = encode(folder, desc, store, "here")
    assert first == second  # the random remote path is not part of the literal
    blob = first["scalar"]["blob"]
    assert blob["metadata"] == {"type": {"format": "binary", "dimensionality": 1}}
    assert "uri" not in blob and list(blob["dir"]["files"]) == ["a"]
    assert store.exists(blob["dir"]["files"]["a"])
    raw = FlyteContextManager.current_context().file_access.raw_output_prefix
    assert os.listdir(raw) == []


def test_a_cached_task_is_keyed_by_the_content_of_a_transformed_input(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("one", "two"):  # two folders, the same files: one run
        folder = ex.Folder(str(tmp_path / name))
        os.makedirs(folder.base_dir)
        folder.write("a", "1")
        assert ex.count_files(folder=folder, runs_dir=str(runs)) == 1
    assert len(os.listdir(runs)) == 1
    folder.write("b", "2")
    assert ex.count_files(folder=folder, runs_dir=str(runs)) == 2
    assert len(os.listdir(runs)) == 2


def test_primitive_list_and_subclass_values_round_trip():
    shown, first = ex.money_wf(cents=[150, 275])
    assert shown == "Money 425 EUR"
    assert first == ex.Money(150, "EUR")


def test_a_single_file_blob_round_trips():
    note = ex.note_wf(text="hi")
    assert isinstance(note, ex.Note) and note.text == "HI!"


def test_a_transformer_that_raises_fails_the_node_naming_the_output():
    with pytest.raises(TypeConversionError) as info:  # in-process: the node's own error
        ex.price(cents=-5)
    assert "output 'o0' of task 'price'" in str(info.value)
    assert "money.to_literal raised ValueError: no negative amounts" in str(info.value)


def test_a_value_of_the_wrong_type_is_refused_by_the_transformers_type_check():
    with pytest.raises(TypeConversionError) as info:
        ex.show(m="12 EUR")
    assert str(info.value).startswith("input 'm' of task 'show': Expected value of type "
                                      "<class 'workflows.extend_types.Money'> but got '12 EUR'")


def test_registering_a_second_transformer_for_a_type_is_a_value_error():
    with pytest.raises(ValueError) as info:
        TypeEngine.register(ex.MoneyTransformer())
    assert str(info.value) == ("Transformer money for type <class 'workflows.extend_types.Money'>"
                               " is already registered. Cannot override with money")
    with pytest.raises(ValueError, match="Transformer int for type <class 'int'> is already"):
        class Again(TypeTransformer[int]):
            def __init__(self) -> None:
                super().__init__("again", int)

        TypeEngine.register(Again())


def test_type_engine_gives_flytekits_literals_for_builtin_types():
    ctx = FlyteContextManager.current_context()
    cases = [(3, int, {"scalar": {"primitive": {"integer": 3}}}, {"simple": SimpleType.INTEGER}),
             ("s", str, {"scalar": {"primitive": {"string_value": "s"}}}, {"simple": 3}),
             ([1, 2], typing.List[int], {"collection": {"literals": [
                 {"scalar": {"primitive": {"integer": 1}}},
                 {"scalar": {"primitive": {"integer": 2}}}]}}, {"collection_type": {"simple": 1}}),
             ({"a": 1.5}, typing.Dict[str, float], {"map": {"literals": {
                 "a": {"scalar": {"primitive": {"float_value": 1.5}}}}}},
              {"map_value_type": {"simple": 2}}),
             (None, type(None), {"scalar": {"none_type": {}}}, {"simple": 0}),
             (datetime.timedelta(seconds=3), datetime.timedelta,
              {"scalar": {"primitive": {"duration": 3.0}}}, {"simple": 6})]
    for value, tp, lit, lt in cases:
        literal_type = TypeEngine.to_literal_type(tp)
        assert literal_type.to_json() == lt
        lv = TypeEngine.to_literal(ctx, value, tp, literal_type)
        assert lv.to_json() == lit
        assert TypeEngine.to_python_value(ctx, Literal.from_json(lit), tp) == value
    assert TypeEngine.to_literal(ctx, 5, int, None) == Literal(
        scalar=Scalar(primitive=Primitive(integer=5)))
    with pytest.raises(TypeTransformerFailedError):
        TypeEngine.to_literal(ctx, "5", int, None)
    # any other type carries graft's own literal
    lv = TypeEngine.to_literal(ctx, (1, "a"), typing.Tuple[int, str], None)
    assert TypeEngine.to_python_value(ctx, lv, typing.Tuple[int, str]) == (1, "a")
    assert TypeEngine.guess_python_type(LiteralType(simple=SimpleType.INTEGER)) is int


def test_literal_models_compare_and_serialize_like_flytekits():
    lit = Literal(collection=LiteralCollection([Literal(scalar=Scalar(
        primitive=Primitive(string_value="x")))]))
    assert lit == Literal.from_json(json.loads(json.dumps(lit.to_json())))
    assert lit.value is lit.collection and lit.collection.literals[0].scalar.primitive.value == "x"
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert Primitive(datetime=when).datetime == when.replace(tzinfo=datetime.timezone.utc)


def test_flytekits_context_inside_a_task():
    facts = ex.context_wf()
    assert facts["same_params"] == "True" and facts["same_class_method"] == "True"
    assert facts["node"] == "context_facts"
    assert facts["local_exists"] == "False"  # get_random_local_path creates nothing
    assert facts["copied"] == "a" and facts["exists"] == "True"
    assert facts["remote_under_prefix"] == "True"
    assert facts["mode"] == "LOCAL_TASK_EXECUTION"
    assert not os.path.exists(facts["sandbox"])  # an attempt's scratch folder goes with it


def test_context_outside_a_task():
    ctx = FlyteContextManager.current_context()
    assert ctx.compilation_state is None
    assert ctx.execution_state.mode is None
    assert ctx.user_space_params.execution_id.name == "local"
    fa = ctx.file_access
    assert fa.raw_output_prefix.endswith(os.sep) and not fa.is_remote(fa.raw_output_prefix)
    assert fa.is_remote("s3://bucket/x") and not fa.is_remote("file:///tmp/x")


@task
def t_one(x: float) -> float:
    return x - 1


@task
def t_two(x: float) -> float:
    return x * 2


def test_compilation_state_lists_the_nodes_of_the_body_being_compiled():
    seen: list[typing.Any] = []

    @workflow
    def body(x: float) -> float:
        ctx = FlyteContextManager.current_context()
        seen.append(len(ctx.compilation_state.nodes))
        out = t_one(x=x)
        t_two(x=x)
        nodes = ctx.compilation_state.nodes
        seen.append([n.id for n in nodes])
        nodes[1] >> nodes[0]  # orders, like `>>` on the calls themselves
        return out

    spec = body.compile()
    assert seen == [0, ["t_one", "t_two"]]
    assert spec.nodes[0].after == ("t_two",)
