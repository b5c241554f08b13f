"""Each test workflow with inputs and its exact expected result, for the local and cluster
suites alike: `for case in CASES: assert case.workflow(**case.kwargs) == case.expected`."""

from typing import Any, NamedTuple

from workflows import basic, dynamics, files
from workflows.basic import Stats
from workflows.values import Color, Point, Segment


class Case(NamedTuple):
    id: str
    workflow: Any
    kwargs: dict
    expected: Any


CASES = [
    Case("chain", basic.chain, {"n": 4}, "squares=30"),
    Case("chain-default", basic.chain, {}, "squares=30"),
    Case("chain-n10", basic.chain, {"n": 10}, "squares=385"),
    Case("stats", basic.stats_wf, {"n": 4}, Stats(total=30, mean=7.5, label="squares")),
    Case("tuples", basic.tuples, {"a": 17, "b": 5}, (4, "r2", 17.5)),
    Case("int-to-float", basic.int_to_float, {"n": 2}, ("float", 3.0)),
    Case("containers", basic.containers, {"name": "bob"},
         ("hello bob|hello ada|end", "hello ada", 2.0, None, {"a": 3.0, "b": 4.0},
          {1: "one", 2: "two"}, [3.0, 5.0, 7.0])),
    Case("containers-none", basic.containers, {},
         ("hello nobody|hello ada|end", "hello ada", 2.0, None, {"a": 3.0, "b": 4.0},
          {1: "one", 2: "two"}, [3.0, 5.0, 7.0])),
    Case("dataclasses", basic.dataclasses_wf, {"c": Color.BLUE},
         (Segment("hyp", Point(0.0, 0.0), Point(3.0, 4.0), ["made", "checked"]), 5.0,
          Color.RED, 1.5)),
    Case("subworkflow", basic.with_subworkflow, {"n": 3}, (14, 44, 3)),
    Case("only-echo", basic.only_echo, {"x": 7}, 7),
    Case("big-literal", basic.big_literal, {}, sum(range(2000))),
    Case("fan-out", dynamics.fan_out_wf, {"n": 5}, 30),
    Case("fan-out-empty", dynamics.fan_out_wf, {"n": 0}, 0),
    Case("nested", dynamics.nested_wf, {"width": 2}, dynamics.nested_expected(2)),
    Case("nested-3", dynamics.nested_wf, {"width": 3}, dynamics.nested_expected(3)),
    Case("recursive", dynamics.recursive_wf, {"n": 6}, (8, [4, 3, 2, 1])),
    Case("dynamic-subworkflow", dynamics.dynamic_subworkflow_wf, {"ns": [1, 2, 3]},
         ([1, 5, 14], [9, 6])),
    Case("dynamic-mutates-input", dynamics.mutated_input_wf, {"xs": [1, 2]}, [1, 2, 99]),
    Case("models", files.models_wf, {"ks": [2, 3]},
         ["model-k2.joblib.dat:2:3.0", "model-k3.joblib.dat:3:4.5"]),
]
