"""Command-line inputs read by their annotated types (sdk.cli.parse_input)."""

import enum
import typing

import pytest
from workflows.values import Color, Point

from sdk import ConfigError
from sdk.cli import parse_input
from sdk.values.handlers import describe


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@pytest.mark.parametrize(("raw", "tp", "expected"), [
    ("red", Color, Color.RED),
    ("GREEN", Color, Color.GREEN),
    ('"blue"', Color, Color.BLUE),
    ("2", Level, Level.HIGH),
    ("LOW", Level, Level.LOW),
    ("blue", Color | None, Color.BLUE),
    ("none", Color | None, None),
    ('{"x": 1, "y": 2.5}', Point, Point(1.0, 2.5)),
    ("[1, 2]", typing.List[int], [1, 2]),
])
def test_inputs_parse(raw, tp, expected):
    value = parse_input(raw, describe(tp), "--v")
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("raw", "tp", "message"), [
    ("purple", Color, "--v: cannot read 'purple' as Color (expected one of red, green, blue "
                      "(or a member name: RED, GREEN, BLUE))"),
    ("3", Level, "--v: cannot read '3' as Level (expected one of 1, 2 (or a member name: LOW, "
                 "HIGH))"),
    ('{"a":1}', typing.List[int], """--v: cannot read '{"a":1}' as List[int] (expected a JSON """
                                  "list, e.g. [1, 2], got an object)"),
    ("5", typing.List[int], "--v: cannot read '5' as List[int] (expected a JSON list, e.g. "
                            "[1, 2], got a number)"),
    ('"ab"', typing.Tuple[int, str], """--v: cannot read '"ab"' as Tuple[int, str] (expected """
                                     """a JSON list, e.g. [1, "a"], got a string)"""),
    ("[1]", typing.Dict[str, int], "--v: cannot read '[1]' as Dict[str, int] (expected a JSON "
                                   """object, e.g. {"a": 1}, got a list)"""),
    ("[1, 2]", Point, "--v: cannot read '[1, 2]' as Point (expected a JSON object of its "
                      "fields, got a list)"),
])
def test_malformed_inputs_say_what_was_expected(raw, tp, message):
    with pytest.raises(ConfigError) as info:
        parse_input(raw, describe(tp), "--v")
    assert str(info.value) == message


def test_cli_formats_sort_cut_and_size_as_a_reader_expects():
    from sdk.cli_format import cut, human_bytes, iso_times, natural_key, timestamp

    ids = ["m/10", "m/2", "m/1/3", "m/1/10", "a"]
    assert sorted(ids, key=natural_key) == ["a", "m/1/3", "m/1/10", "m/2", "m/10"]
    assert cut("workflows.cluster_wf.sum_up", 12) == "workflows.c…"
    assert cut("short", 12) == "short"
    assert human_bytes(331360 * 1024) == "323.6 MiB" and human_bytes(512) == "512 B"
    assert human_bytes(3 * 2**30) == "3.0 GiB"
    stamp = timestamp(1767225600.0)
    assert stamp[10] == "T" and stamp[-6] in "+-" and stamp[-3] == ":"
    doc = iso_times({"submitted_at": 1767225600.0, "nodes": [{"at": 1.0, "n_at": True}],
                     "value": 5, "next_run_s": 1767225600})
    assert doc["submitted_at"] == stamp and doc["next_run_s"] == stamp
    assert doc["nodes"][0]["n_at"] is True and doc["value"] == 5


def test_a_nodes_time_is_split_into_queued_and_ran():
    from sdk.remote.timing import node_times

    task = {"kind": "task", "started_at": 100.0, "ended_at": 110.0,
            "history": [{"attempt": 1, "duration_s": 2.0, "ended_at": 105.0},
                        {"attempt": 2, "duration_s": 3.0, "ended_at": 110.0}]}
    assert node_times(task, now=200.0) == {"queued_s": 5.0, "running_s": 5.0, "total_s": 10.0}
    # a dynamic: its body ran 1 s after 4 s in a queue; its children took the rest
    dynamic = {"kind": "dynamic", "started_at": 100.0, "ended_at": 130.0,
               "history": [{"attempt": 1, "duration_s": 1.0, "ended_at": 105.0}]}
    assert node_times(dynamic, now=200.0) == {"queued_s": 4.0, "running_s": 1.0,
                                              "total_s": 30.0}
    live = {"kind": "task", "started_at": 100.0, "ended_at": None, "history": []}
    assert node_times(live, now=103.5) == {"queued_s": None, "running_s": None, "total_s": 3.5}
