"""Compiling workflow and dynamic bodies (sdk.authoring): the specs they make and the
messages users see when a body is wrong."""

import importlib.util
import pathlib
import typing

import pytest
from workflows import basic, dynamics
from workflows.basic import Stats, add, div_mod, greet, make_numbers, summarize, total

from sdk import CompileError, ConfigError, Resources, dynamic, task, workflow
from sdk.values.store import MemoryStore

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def compile_error(wf) -> str:
    with pytest.raises(CompileError) as info:
        wf.compile()
    return str(info.value)


# ---- what compiles ------------------------------------------------------------------------

def test_chain_compiles_to_nodes_with_references():
    spec = basic.chain.compile()
    assert [n.id for n in spec.nodes] == ["make_numbers", "square_all", "summarize", "describe"]
    nodes = spec.node_map()
    assert nodes["make_numbers"].inputs == {"n": {"input": "n"}}
    assert nodes["square_all"].inputs == {"xs": {"ref": ["make_numbers", "o0"]}}
    # a default the body did not pass is bound as a literal
    assert nodes["summarize"].inputs == {"xs": {"ref": ["square_all", "o0"]},
                                         "label": {"val": {"v": "squares"}}}
    # NamedTuple attribute access reads the named output
    assert nodes["describe"].inputs == {"total": {"ref": ["summarize", "total"]},
                                        "label": {"ref": ["summarize", "label"]}}
    assert nodes["summarize"].outputs_types == {"total": {"t": "int"}, "mean": {"t": "float"},
                                                "label": {"t": "str"}}
    assert nodes["square_all"].limits == {"mem_bytes": 200 * 2**20}
    assert nodes["make_numbers"].task.ref == "workflows.basic:make_numbers"
    assert [(o.name, o.binding) for o in spec.outputs] == [("o0", {"ref": ["describe", "o0"]})]
    assert spec.inputs == {"n": {"t": "int"}}
    assert spec.output_style == "single"


def test_namedtuple_output_style_and_ref():
    spec = basic.stats_wf.compile()
    assert spec.output_style == "namedtuple"
    assert spec.output_ref == "workflows.basic:Stats"
    assert [o.name for o in spec.outputs] == ["total", "mean", "label"]


def test_tuple_outputs_unpack_into_promises():
    spec = basic.tuples.compile()
    assert spec.output_style == "tuple"
    nodes = spec.node_map()
    assert nodes["div_mod"].outputs_types == {"o0": {"t": "int"}, "o1": {"t": "str"}}
    assert nodes["min_max"].outputs_types == {"o0": {"t": "float"}, "o1": {"t": "float"}}
    assert nodes["add"].inputs == {"a": {"ref": ["div_mod", "o0"]}, "b": {"val": {"v": 1}}}
    assert nodes["add_floats"].inputs == {"a": {"ref": ["min_max", "o0"]},
                                          "b": {"ref": ["min_max", "o1"]}}
    assert [o.binding for o in spec.outputs] == [
        {"ref": ["add", "o0"]}, {"ref": ["div_mod", "o1"]}, {"ref": ["add_floats", "o0"]}]


def test_unpacking_dataset_like_the_knn_example():
    spec_path = EXAMPLES / "knn.py"
    loaded = importlib.util.spec_from_file_location("knn_compile_example", spec_path)
    knn = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(knn)
    spec = knn.wf.compile()
    nodes = spec.node_map()
    assert list(nodes) == ["get_dataset", "get_models", "evaluate_model"]
    assert nodes["evaluate_model"].kind == "dynamic"
    assert nodes["evaluate_model"].inputs == {"models": {"ref": ["get_models", "o0"]},
                                              "X": {"ref": ["get_dataset", "o0"]},
                                              "y": {"ref": ["get_dataset", "o1"]}}
    assert nodes["get_dataset"].outputs_types == {
        "o0": {"t": "list", "of": {"t": "list", "of": {"t": "float"}}},
        "o1": {"t": "list", "of": {"t": "float"}}}
    assert nodes["get_dataset"].limits == {"mem_bytes": 600 * 2**20}
    assert nodes["evaluate_model"].limits == {"mem_bytes": 1000 * 2**20}
    assert (nodes["get_models"].cache, nodes["get_models"].cache_version) == (True, "0.1")
    assert nodes["get_models"].outputs_types["o0"]["of"]["format"] == "joblib"


def test_repeated_calls_get_numbered_ids_and_containers_become_bindings():
    spec = basic.containers.compile()
    ids = [n.id for n in spec.nodes]
    assert ids[:4] == ["greet", "greet-1", "join_all", "pick"]
    assert ids.count("maybe_half") == 1 and "maybe_half-1" in ids
    nodes = spec.node_map()
    assert nodes["join_all"].inputs["parts"] == {"list": [
        {"ref": ["greet", "o0"]}, {"ref": ["greet-1", "o0"]}, {"val": {"v": "end"}}]}
    assert nodes["pick"].inputs["d"] == {"dict": {"first": {"ref": ["greet", "o0"]},
                                                  "second": {"ref": ["greet-1", "o0"]}}}
    assert nodes["scale"].inputs["d"] == {"val": {"v": {"a": 1.5, "b": 2.0}}}
    assert nodes["invert"].outputs_types["o0"] == {"t": "dict", "key": {"t": "int"},
                                                   "of": {"t": "str"}}


def test_sub_workflow_is_a_node_carrying_its_graph():
    spec = basic.with_subworkflow.compile()
    sub = spec.node_map()["square_sum"]
    assert sub.kind == "workflow"
    assert sub.subgraph is not None
    assert [n.id for n in sub.subgraph.nodes] == ["make_numbers", "square_all", "total"]
    assert spec.node_map()["square_sum-1"].inputs == {"n": {"ref": ["add", "o0"]}}


def test_large_literal_is_offloaded_to_the_store():
    spec = basic.big_literal.compile()
    binding = spec.nodes[0].inputs["xs"]
    assert list(binding["val"]) == ["u"]
    assert binding["val"]["u"].startswith("values/")


def test_positional_arguments_bind_in_order():
    @workflow
    def positional(a: int) -> int:
        return add(a, 2)

    assert positional.compile().nodes[0].inputs == {"a": {"input": "a"}, "b": {"val": {"v": 2}}}


def test_dynamic_body_binds_inputs_passed_on_unchanged_as_values():
    store = MemoryStore()
    sub = dynamics.passthrough.expand({"xs": [1, 2, 3], "k": 9}, store, None)
    assert sub.inputs == {"xs": {"t": "list", "of": {"t": "int"}}, "k": {"t": "int"}}
    nodes = sub.node_map()
    assert nodes["total"].inputs == {"xs": {"val": {"v": [1, 2, 3]}}}
    assert nodes["identity"].inputs == {"x": {"val": {"v": 9}}}
    assert [o.binding for o in sub.outputs] == [
        {"list": [{"ref": ["identity", "o0"]}, {"ref": ["total", "o0"]}]}]


def test_dynamic_body_sees_in_place_changes_to_its_inputs():
    xs = [1, 2]
    sub = dynamics.append_99.expand({"xs": xs}, MemoryStore(), None)
    assert sub.node_map()["identity_list"].inputs == {"xs": {"val": {"v": [1, 2, 99]}}}
    assert dynamics.mutated_input_wf(xs=[1, 2]) == [1, 2, 99]
    assert dynamics.append_99(xs=[5]) == [5, 99]


def test_sub_workflow_called_from_a_dynamic_carries_its_bundle():
    sub = dynamics.sums_of_squares.expand({"ns": [1, 2]}, MemoryStore(), "b" * 64)
    walked = list(sub.walk())
    assert [nid for nid, _ in walked] == [
        "square_sum", "square_sum/make_numbers", "square_sum/square_all", "square_sum/total",
        "square_sum-1", "square_sum-1/make_numbers", "square_sum-1/square_all",
        "square_sum-1/total"]
    assert {node.task.bundle for _, node in walked} == {"b" * 64}
    # the workflow's own compiled spec (shared by every caller) is left without one
    assert {node.task.bundle for _, node in basic.square_sum.compile().walk()} == {None}


def test_dynamic_body_runs_with_real_values():
    sub = dynamics.fib.expand({"n": 5}, MemoryStore(), None)
    assert [(n.id, n.kind, n.inputs) for n in sub.nodes] == [
        ("fib", "dynamic", {"n": {"val": {"v": 4}}}),
        ("fib-1", "dynamic", {"n": {"val": {"v": 3}}}),
        ("add", "task", {"a": {"ref": ["fib", "o0"]}, "b": {"ref": ["fib-1", "o0"]}})]
    leaf = dynamics.fib.expand({"n": 1}, MemoryStore(), None)
    assert leaf.nodes == []
    assert [o.binding for o in leaf.outputs] == [{"val": {"v": 1}}]


# ---- Promise misuse -----------------------------------------------------------------------

def test_iterating_a_promise_explains_and_points_to_dynamic():
    @workflow
    def loops(n: int) -> int:
        return total(xs=[x + 1 for x in make_numbers(n=n)])

    message = compile_error(loops)
    assert "not iterable" in message
    assert "make_numbers" in message
    assert "@dynamic" in message
    assert message.startswith("Promise make_numbers.o0 (node 'make_numbers') (List[int]) is "
                              "not iterable at compile time")


def test_iterating_a_workflow_input_is_refused():
    @workflow
    def loops_input(xs: list[int]) -> int:
        for x in xs:
            return x
        return 0

    message = compile_error(loops_input)
    assert "input 'xs' of workflow 'loops_input'" in message
    assert "not iterable" in message


@pytest.mark.parametrize(("misuse", "what"), [
    (lambda p: bool(p), "has no truth value"),
    (lambda p: 1 if p else 0, "has no truth value"),
    (lambda p: len(p), "has no length"),
    (lambda p: p["k"], "cannot be indexed (with 'k')"),
    (lambda p: p[1:], "cannot be indexed (with slice(1, None, None))"),
    (lambda p: p.total, "has no attribute 'total'"),
])
def test_promise_misuse_is_a_compile_error(misuse, what):
    @workflow
    def misuses(n: int) -> int:
        misuse(make_numbers(n=n))
        return n

    message = compile_error(misuses)
    assert f"Promise make_numbers.o0 (node 'make_numbers') (List[int]) {what}" in message
    assert "@dynamic" in message


def test_a_python_if_on_a_comparison_points_to_conditional():
    @workflow
    def branches_in_python(n: int) -> int:
        if add(a=n, b=1) > 3:
            return n
        return 0

    message = compile_error(branches_in_python)
    assert "has no truth value at compile time" in message
    assert 'conditional("name").if_(condition)' in message and "& and |" in message


# ---- wrong calls --------------------------------------------------------------------------

def test_wrong_input_name():
    @workflow
    def wrong_name(n: int) -> int:
        return add(a=n, c=1)

    assert compile_error(wrong_name) == "task 'add' has no input 'c'; its inputs are: a, b"


def test_missing_input():
    @workflow
    def missing(n: int) -> int:
        return add(a=n)

    assert compile_error(missing) == "call to task 'add' is missing input 'b' (int)"


def test_literal_of_wrong_type_names_task_and_input():
    @workflow
    def wrong_literal(n: int) -> int:
        return add(a=n, b="two")

    assert compile_error(wrong_literal) == ("call to task 'add', input 'b': expected int, "
                                            "got str")


def test_nested_literal_of_wrong_type_names_the_item():
    @workflow
    def wrong_item() -> int:
        return total(xs=[1, 2, "3"])

    assert compile_error(wrong_item) == ("call to task 'total', input 'xs': item 2: expected "
                                         "int, got str")


def test_promise_of_wrong_type():
    @workflow
    def wrong_promise() -> int:
        return add(a=greet(name="x"), b=1)

    assert compile_error(wrong_promise) == (
        "call to task 'add', input 'a': greet.o0 (node 'greet') is str, which does not fit int")


def test_all_outputs_of_a_call_passed_as_one_value():
    @workflow
    def whole_tuple() -> int:
        return add(a=div_mod(a=7, b=2), b=1)

    assert compile_error(whole_tuple) == (
        "call to task 'add', input 'a': got the 2 outputs of one call; pick one (unpack them, "
        "or use the named field)")


def test_promises_in_a_container_of_the_wrong_kind():
    @workflow
    def list_to_int() -> int:
        return add(a=[add(a=1, b=2)], b=1)

    assert compile_error(list_to_int) == (
        "call to task 'add', input 'a': a list holding Promises cannot be passed as int")


def test_too_many_positional_arguments():
    @workflow
    def too_many(n: int) -> int:
        return add(n, 1, 2)

    assert compile_error(too_many) == ("task 'add' takes 2 input(s) (a, b) but was called "
                                       "with 3 positional arguments")


def test_input_given_positionally_and_by_name():
    @workflow
    def twice(n: int) -> int:
        return add(n, a=1)

    assert compile_error(twice) == "task 'add': input 'a' is given twice"


def test_returning_the_wrong_number_of_outputs():
    @workflow
    def two_outputs(n: int) -> (int, str):
        return add(a=n, b=1)

    assert compile_error(two_outputs) == ("workflow 'two_outputs' declares 2 outputs (o0, o1) "
                                          "but returned 1 value(s)")

    @workflow
    def three_for_two(n: int) -> typing.Tuple[int, int]:
        return n, n, n

    assert compile_error(three_for_two) == ("workflow 'three_for_two' declares 2 outputs "
                                            "(o0, o1) but returned 3 value(s)")

    @workflow
    def returns_without_annotation(n: int):
        return add(a=n, b=1)

    assert compile_error(returns_without_annotation).startswith(
        "workflow 'returns_without_annotation' declares no outputs but returned Promise(")


def test_returned_value_of_wrong_type():
    @workflow
    def returns_str(n: int) -> int:
        return greet(name="x")

    assert compile_error(returns_str) == ("workflow 'returns_str', output 'o0': greet.o0 "
                                          "(node 'greet') is str, which does not fit int")


def test_wrong_call_inside_a_dynamic_body():
    @dynamic
    def bad_dynamic(n: int) -> int:
        return add(a=n, bb=1)

    with pytest.raises(CompileError, match="task 'add' has no input 'bb'; its inputs are: a, b"):
        bad_dynamic.expand({"n": 1}, MemoryStore(), None)


def test_compile_error_is_raised_before_anything_runs(tmp_path):
    marker = tmp_path / "ran"

    @task
    def side_effect(path: str) -> int:
        open(path, "w").close()
        return 1

    @workflow
    def late_error(path: str) -> int:
        side_effect(path=path)
        return add(a=1, b="x")

    with pytest.raises(CompileError, match="input 'b': expected int, got str"):
        late_error(path=str(marker))
    assert not marker.exists()


# ---- decoration errors --------------------------------------------------------------------

def test_unannotated_input():
    with pytest.raises(CompileError) as info:
        @task
        def no_hint(x, y: int) -> int:
            return y

    assert str(info.value).endswith(".no_hint: input 'x' has no type annotation; graft needs "
                                    "one to move its value between tasks (or "
                                    "pickle_untyped=True to pickle it, as typing.Any)")
    assert str(info.value).startswith("task test_unannotated_input.<locals>.no_hint")


def test_var_args_are_refused():
    with pytest.raises(CompileError, match=r"\*args and \*\*kwargs are not supported "
                                           r"\(input 'rest'\)"):
        @workflow
        def var_args(*rest: int) -> int:
            return 0


def test_malformed_resources_fail_at_decoration():
    with pytest.raises(ConfigError) as info:
        @task(limits=Resources(mem="12Q"))
        def greedy() -> int:
            return 1

    assert str(info.value).startswith("Resources(mem=...): malformed quantity '12Q'; write a "
                                      "number with an optional unit")
    assert "'600Mi'" in str(info.value)
    with pytest.raises(ConfigError, match=r"Resources\(cpu=...\): malformed CPU quantity 'lots'"):
        Resources(cpu="lots")


def test_cache_without_version():
    with pytest.raises(ConfigError) as info:
        @task(cache=True)
        def uncached() -> int:
            return 1

    assert "cache=True needs a cache_version (e.g. '0.1')" in str(info.value)
    assert str(info.value).startswith("@task test_cache_without_version.<locals>.uncached")


@pytest.mark.parametrize(("options", "message"), [
    ({"retries": -1}, "retries must be an int >= 0, got -1"),
    ({"retries": True}, "retries must be an int >= 0, got True"),
    ({"timeout": -1}, "timeout must be seconds >= 0 or a timedelta, got -1"),
    ({"limits": {"mem": "1Gi"}}, "limits must be Resources(...), got {'mem': '1Gi'}"),
    ({"cache": "yes", "cache_version": "1"}, "cache must be True, False or Cache(...), got 'yes'"),
    ({"cache": True, "cache_version": 1}, "cache_version must be a string, got 1"),
])
def test_bad_task_options(options, message):
    """(A timeout of 0 is flytekit's default, no timeout: accepted.)"""
    with pytest.raises(ConfigError) as info:
        @dynamic(**options)
        def opts() -> int:
            return 1

    assert message in str(info.value)
    assert str(info.value).startswith("@dynamic ")


def test_task_options_reach_the_spec():
    import datetime

    @task(retries=3, timeout=datetime.timedelta(minutes=2), requests=Resources(cpu="500m",
                                                                               mem="1Gi"))
    def tuned(x: int) -> int:
        return x

    @workflow
    def uses_tuned() -> int:
        return tuned(x=1)

    node = uses_tuned.compile().nodes[0]
    assert (node.retries, node.timeout_s) == (3, 120.0)
    assert node.requests == {"cpu": 0.5, "mem_bytes": 2**30}
    assert node.memory_bytes == 2**30


def test_summarize_namedtuple_promises_have_fields():
    @workflow
    def fields(n: int) -> (int, float, str):
        st = summarize(xs=make_numbers(n=n))
        assert isinstance(st, Stats)
        return st.total, st.mean, st[2]

    assert [o.binding for o in fields.compile().outputs] == [
        {"ref": ["summarize", "total"]}, {"ref": ["summarize", "mean"]},
        {"ref": ["summarize", "label"]}]


def test_postponed_annotations_read_like_evaluated_ones():
    from workflows.postponed import pair, postponed_wf, stats

    assert pair.interface.style == "tuple"
    assert pair.interface.outputs == {"o0": {"t": "int"}, "o1": {"t": "str"}}
    assert stats.interface.style == "namedtuple"
    assert stats.interface.inputs == {"xs": {"t": "list", "of": {"t": "int"}}}
    assert postponed_wf(x=4) == (4, "4", 8)


def test_unresolvable_annotation_is_a_compile_error():
    def f(x: "NoSuchType") -> int:  # noqa: F821
        return 1

    with pytest.raises(CompileError, match=r"<locals>.f: cannot read its type annotations: "
                                           r"name .NoSuchType. is not defined"):
        task(f)
