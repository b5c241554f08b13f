"""Values through their type handlers, literals and the store (sdk.values, sdk.types), and
resource quantities (sdk.model.resources)."""

import datetime
import json
import os
import pathlib
import threading
import typing
from typing import Any, Optional

import joblib
import pytest
from workflows.values import Color, Opaque, Point, Segment

from sdk import ConfigError, Resources, StoreError, StoreIntegrityError, TypeConversionError
from sdk.model.config import parse_tiers
from sdk.model.resources import format_memory, parse_cpu, parse_memory
from sdk.model.typesys import is_assignable, type_name
from sdk.types import Directory, File, JoblibSerializedFile
from sdk.values.handlers import describe
from sdk.values.literals import INLINE_LIMIT_BYTES, decode, encode, from_ref, to_ref
from sdk.values.store import FsspecStore, MemoryStore, open_store
from sdk.wire.keys import tier_queue


@pytest.fixture(params=["memory", "fsspec"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryStore()
    return FsspecStore(str(tmp_path / "store"))


def roundtrip(value, tp, store, limit=INLINE_LIMIT_BYTES):
    """encode -> to_ref -> (JSON on the wire) -> from_ref -> decode."""
    desc = describe(tp)
    literal = encode(value, desc, store, "test value")
    ref = to_ref(literal, store, limit)
    wire = json.loads(json.dumps(ref))
    return decode(from_ref(wire, store), desc, store, "test value")


SEGMENT = Segment("hyp", Point(0.0, 0.5), Point(3.0, 4.0), ["a", "b"])

CASES = [
    ("int", 42, int),
    ("negative-int", -7, int),
    ("big-int", 2**62 + 1, int),
    ("float", 2.5, float),
    ("float-inf", float("inf"), float),
    ("str", "héllo wörld ✓", str),
    ("empty-str", "", str),
    ("bool", True, bool),
    ("bytes", b"\x00\xffbinary\n", bytes),
    ("none", None, None),
    ("list", [1, 2, 3], list[int]),
    ("typing-list", ["a", "b"], typing.List[str]),
    ("empty-list", [], list[float]),
    ("dict-str", {"a": 1.5, "b": -2.0}, dict[str, float]),
    ("typing-dict", {"x": [1, 2]}, typing.Dict[str, typing.List[int]]),
    ("dict-int", {1: "one", -2: "minus two"}, dict[int, str]),
    ("dict-float-key", {0.5: True}, dict[float, bool]),
    ("optional-none", None, Optional[int]),
    ("optional-value", 3, Optional[int]),
    ("union-none", "x", str | None),
    ("nested-lists", [[1.0, 2.5], [], [3.25]], list[list[float]]),
    ("tuple", (1, "two", 3.0), tuple[int, str, float]),
    ("typing-tuple", (True, [1]), typing.Tuple[bool, typing.List[int]]),
    ("dataclass", Point(1.0, 2.0), Point),
    ("nested-dataclass", SEGMENT, Segment),
    ("list-of-dataclass", [Point(1.0, 1.0), Point(2.0, 2.0)], list[Point]),
    ("dict-of-optional-dataclass", {"p": Point(1.0, 0.0), "q": None}, dict[str, Optional[Point]]),
    ("enum", Color.GREEN, Color),
    ("list-of-enum", [Color.BLUE, Color.RED], list[Color]),
    ("pickle", Opaque({"k": [1, 2]}, 0.25), Opaque),
    ("any", {"free": ["form", 1]}, Any),
]


@pytest.mark.parametrize(("value", "tp"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_value_round_trips(value, tp, store):
    back = roundtrip(value, tp, store)
    assert back == value
    assert type(back) is type(value)


def test_int_converts_to_float(store):
    back = roundtrip(3, float, store)
    assert back == 3.0
    assert isinstance(back, float)
    assert encode([1, 2], describe(list[float]), store, "x") == [1.0, 2.0]


def test_bytearray_comes_back_as_bytes(store):
    assert roundtrip(bytearray(b"ab"), bytes, store) == b"ab"


def test_literals_are_plain_json():
    store = MemoryStore()
    assert encode(SEGMENT, describe(Segment), store, "x") == {
        "name": "hyp", "a": {"x": 0.0, "y": 0.5}, "b": {"x": 3.0, "y": 4.0}, "tags": ["a", "b"]}
    assert encode({1: "a"}, describe(dict[int, str]), store, "x") == {"1": "a"}
    assert encode(Color.BLUE, describe(Color), store, "x") == "blue"
    assert encode(b"hi", describe(bytes), store, "x") == "aGk="
    assert encode((1, "a"), describe(tuple[int, str]), store, "x") == [1, "a"]
    pickled = encode(Opaque({}, 1.0), describe(Opaque), store, "x")
    assert list(pickled) == ["pickle"]
    assert store.exists(pickled["pickle"])


def test_descriptors():
    assert describe(list[list[float]]) == {"t": "list", "of": {"t": "list", "of": {"t": "float"}}}
    assert describe(Optional[str]) == {"t": "optional", "of": {"t": "str"}}
    assert describe(dict[int, str]) == {"t": "dict", "key": {"t": "int"}, "of": {"t": "str"}}
    assert describe(Color) == {"t": "enum", "ref": "workflows.values:Color",
                               "values": ["red", "green", "blue"]}
    assert describe(JoblibSerializedFile) == {"t": "file", "format": "joblib",
                                              "ref": "sdk.values.files:JoblibSerializedFile"}
    assert describe(Directory) == {"t": "dir"}
    assert describe(Opaque) == {"t": "pickle", "ref": "workflows.values:Opaque"}
    assert describe(dict[Point, int])["t"] == "pickle"
    assert describe(int | str) == {"t": "union", "of": [{"t": "int"}, {"t": "str"}]}
    assert type_name(describe(dict[str, Optional[list[int]]])) == "Dict[str, Optional[List[int]]]"
    assert type_name(describe(tuple[int, Directory])) == "Tuple[int, Directory]"
    assert type_name(describe(Opaque)) == "Opaque (pickled)"


@pytest.mark.parametrize(("src", "dst", "ok"), [
    (int, float, True),
    (float, int, False),
    (int, Optional[int], True),
    (Optional[int], int, False),
    (None, Optional[str], True),
    (list[int], list[float], True),
    (list[str], list[int], False),
    (dict[str, int], dict[int, int], False),
    (JoblibSerializedFile, File, True),
    (File, JoblibSerializedFile, True),
    (Point, Segment, False),
    (Any, Segment, True),
    (tuple[int, str], tuple[int, str, int], False),
])
def test_assignability(src, dst, ok):
    assert is_assignable(describe(src), describe(dst)) is ok


# ---- offloading ---------------------------------------------------------------------------

def test_small_values_inline_large_ones_in_the_store(store):
    small = to_ref([1, 2, 3], store)
    assert small == {"v": [1, 2, 3]}
    big_value = list(range(1000))
    big = to_ref(big_value, store)
    assert list(big) == ["u"]
    assert big["u"].startswith("values/")
    assert store.exists(big["u"])
    assert from_ref(big, store) == big_value
    # content-addressed: the same value gives the same key
    assert to_ref(list(range(1000)), store) == big
    assert to_ref("x" * 10, store, limit=5) != {"v": "x" * 10}


def test_large_values_round_trip_through_the_store(store):
    matrix = [[float(i * j) for j in range(50)] for i in range(50)]
    assert roundtrip(matrix, list[list[float]], store) == matrix
    assert roundtrip(matrix, list[list[float]], store, limit=10**9) == matrix


def test_missing_store_object_is_a_store_error(store):
    gone = "values/" + "0" * 64
    with pytest.raises(StoreError, match=f"store object '{gone}' is gone from"):
        from_ref({"u": gone}, store)
    with pytest.raises(StoreError, match="is not content-addressed"):
        from_ref({"u": "values/nothing"}, store)
    with pytest.raises(StoreError, match="malformed value reference"):
        from_ref({"x": 1}, store)


def test_fsspec_store_refuses_keys_outside_it(tmp_path):
    fs_store = FsspecStore(str(tmp_path / "s"))
    for key in ("", "/etc/passwd", "blobs/../../x"):
        with pytest.raises(StoreError, match="invalid store key"):
            fs_store.put(key, b"x")
    fs_store.put("blobs/a", b"data")
    assert fs_store.get("blobs/a") == b"data"
    assert fs_store.exists("blobs/a")
    assert (tmp_path / "s" / "blobs" / "a").read_bytes() == b"data"


def test_open_store_opens_each_url_once(tmp_path):
    url = str(tmp_path / "opened")
    assert open_store(url) is open_store(url)
    assert isinstance(open_store(url), FsspecStore)
    assert open_store("memory://") is open_store("memory://")


# ---- type mismatches ----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "tp", "reason"), [
    ("3", int, "expected int, got str"),
    (True, int, "expected int, got bool"),
    (1.5, int, "expected int, got float"),
    ("x", float, "expected float, got str"),
    (1, str, "expected str, got int"),
    (b"x", str, "expected str, got bytes"),
    (1, bool, "expected bool, got int"),
    (1, None, "expected None, got int"),
    ("x", Optional[int], "expected int, got str"),
    ("abc", list[int], "expected List[int], got str"),
    ([1, "2"], list[int], "item 1: expected int, got str"),
    ([[1.0], ["x"]], list[list[float]], "item 1: item 0: expected float, got str"),
    ({"a": 1, "b": "2"}, dict[str, int], "key 'b': expected int, got str"),
    ({1: 1}, dict[str, int], "key 1: expected str, got int"),
    ([1, 2], dict[str, int], "expected Dict[str, int], got list"),
    ((1,), tuple[int, str], "expected 2 items for Tuple[int, str], got 1"),
    (Point(1.0, 2.0), Segment, "expected Segment, got Point"),
    (Segment("s", Point(0.0, 0.0), "p", []), Segment, "field 'b': expected Point, got str"),
    (Segment("s", Point("0", 0.0), Point(1.0, 1.0), []), Segment,
     "field 'a': field 'x': expected float, got str"),
    (Segment("s", Point(0.0, 0.0), Point(1.0, 1.0), [1]), Segment,
     "field 'tags': item 0: expected str, got int"),
    ("red", Color, "expected Color, got str"),
    ({"payload": 1}, Opaque, "expected Opaque (pickled), got dict"),
    (3, File, "expected File, got int"),
    (3, Directory, "expected Directory, got int"),
])
def test_type_mismatch_names_where(value, tp, reason):
    with pytest.raises(TypeConversionError) as info:
        encode(value, describe(tp), MemoryStore(), "input 'x' of task 't'")
    assert str(info.value) == f"input 'x' of task 't': {reason}"


def test_stored_literal_of_the_wrong_shape():
    with pytest.raises(TypeConversionError) as info:
        decode({"x": 1.0}, describe(Point), MemoryStore(), "output 'o0' of 'wf'")
    assert str(info.value).startswith("output 'o0' of 'wf': stored value does not match Point")


def test_unpicklable_value():
    with pytest.raises(TypeConversionError, match="where: cannot pickle Opaque"):
        encode(Opaque({"f": lambda: 1}, 1.0), describe(Opaque), MemoryStore(), "where")


# ---- typing.Any ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, True, -3, 2.5, "s", [1, [2.0, "x"]], {"a": {"b": [None]}},
                                   {"pickle": 1}])
def test_an_any_value_json_holds_travels_as_its_json(value, store):
    assert encode(value, describe(Any), store, "x") == value
    back = roundtrip(value, Any, store)
    assert back == value and type(back) is type(value)


class Label(str):
    pass


@pytest.mark.parametrize("value", [
    (1, "two"), [1, (2, 3)], {1: "one"}, {"k": {2.5}}, datetime.date(2020, 1, 2), Color.RED,
    Opaque({"k": [1]}, 0.5), Label("a str subclass"), {"pickle": "looks like a pickled value"},
], ids=["tuple", "tuple-in-list", "int-keys", "set", "date", "enum", "object", "str-subclass",
        "pickle-shaped-dict"])
def test_an_any_value_json_cannot_hold_exactly_travels_pickled(value, store):
    """As flytekit pickles every typing.Any value: what comes back is what was sent, not what
    JSON made of it."""
    literal = encode(value, describe(Any), store, "x")
    assert list(literal) == ["pickle"] and store.exists(literal["pickle"])
    back = roundtrip(value, Any, store)
    assert back == value and type(back) is type(value)


def test_a_cyclic_any_value_travels_pickled(store):
    cyclic: list = [1]
    cyclic.append(cyclic)
    back = roundtrip(cyclic, Any, store)
    assert back[0] == 1 and back[1] is back


@pytest.mark.parametrize(("value", "tp", "where", "kind"), [
    (threading.Lock(), Any, "", "_thread.lock"),
    ((i for i in range(3)), Any, "", "generator"),
    ([1, threading.Lock()], list[Any], ", item 1", "_thread.lock"),
    ({"ok": 1, "bad": (i for i in "")}, dict[str, Any], ", key 'bad'", "generator"),
    ({"xs": [threading.RLock()]}, dict[str, list[Any]], ", key 'xs', item 0", "_thread.RLock"),
])
def test_an_any_value_nothing_can_encode_is_a_type_conversion_error(value, tp, where, kind):
    with pytest.raises(TypeConversionError) as info:
        encode(value, describe(tp), MemoryStore(), "output 'o0' of task 't'")
    assert str(info.value).startswith(
        f"output 'o0' of task 't'{where}: cannot encode a {kind} value as Any: JSON cannot hold "
        f"it and pickling it failed (TypeError: cannot pickle ")


# ---- files and folders --------------------------------------------------------------------

def test_file_round_trip_keeps_base_name(tmp_path, store):
    src = tmp_path / "in" / "data.csv"
    src.parent.mkdir()
    src.write_text("a,b\n1,2\n")
    desc = describe(File)
    for value in (str(src), src, File(src)):
        literal = encode(value, desc, store, "f")
        assert literal["name"] == "data.csv"
        assert literal["key"].startswith("blobs/")
        back = roundtrip(value, File, store)
        assert type(back) is File
        assert os.path.basename(back) == "data.csv"
        assert back.path != str(src)  # a copy, materialized from the store
        with open(back) as fh:
            assert fh.read() == "a,b\n1,2\n"
        with back.open() as fh:
            assert fh.read() == b"a,b\n1,2\n"
    # a file that came from the store is passed on without uploading it again
    assert encode(back, desc, store, "f") is back._literal


def test_joblib_file_round_trip(tmp_path, store):
    path = tmp_path / "model-k3.joblib.dat"
    joblib.dump({"k": 3, "w": [0.5, 1.5]}, path)
    back = roundtrip(str(path), JoblibSerializedFile, store)
    assert isinstance(back, JoblibSerializedFile)
    assert os.path.basename(str(back)) == "model-k3.joblib.dat"
    assert str(back) == back.path == os.fspath(back)
    assert str(back).endswith("/model-k3.joblib.dat")
    with open(back, "rb") as fh:
        assert fh.read() == path.read_bytes()
    assert joblib.load(back) == {"k": 3, "w": [0.5, 1.5]}
    assert repr(back) == f"JoblibSerializedFile({back.path!r})"
    models = roundtrip([str(path), str(path)], list[JoblibSerializedFile], store)
    assert [joblib.load(m)["k"] for m in models] == [3, 3]


def test_missing_file_is_a_type_conversion_error(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(TypeConversionError) as info:
        encode(str(missing), describe(File), MemoryStore(), "output 'o0' of task 't'")
    assert str(info.value).startswith(f"output 'o0' of task 't': file {str(missing)!r} cannot "
                                      "be read (No such file or directory; working directory")


def test_a_missing_file_inside_containers_is_named_by_item_and_key(tmp_path):
    found = tmp_path / "here.txt"
    found.write_text("x")
    missing = str(tmp_path / "nope.txt")
    value = {"ok": [str(found)], "files": [str(found), missing]}
    with pytest.raises(TypeConversionError) as info:
        encode(value, describe(dict[str, list[File]]), MemoryStore(), "output 'o0' of task 't'")
    assert str(info.value).startswith(f"output 'o0' of task 't', key 'files', item 1: file "
                                      f"{missing!r} cannot be read (No such file")


def test_directory_round_trip(tmp_path, store):
    root = tmp_path / "data"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("A")
    (root / "sub" / "b.bin").write_bytes(b"\x00\x01")
    (root / "sub" / "deeper" / "c.txt").write_text("C")
    literal = encode(str(root), describe(Directory), store, "d")
    assert literal["name"] == "data"
    assert sorted(literal["files"]) == ["a.txt", "sub/b.bin", "sub/deeper/c.txt"]
    back = roundtrip(Directory(root), Directory, store)
    assert isinstance(back, Directory)
    assert os.path.basename(str(back)) == "data"
    found = {os.path.relpath(os.path.join(r, n), back): pathlib.Path(r, n).read_bytes()
             for r, _, names in os.walk(back) for n in names}
    assert found == {"a.txt": b"A", os.path.join("sub", "b.bin"): b"\x00\x01",
                     os.path.join("sub", "deeper", "c.txt"): b"C"}
    assert encode(back, describe(Directory), store, "d") is back._literal


def test_directory_files_are_written_whole_or_not_at_all(tmp_path, graft_dirs):
    """A write that fails half-way (here: the file size limit) leaves no truncated file that a
    later decode of the same directory would take as done."""
    resource = pytest.importorskip("resource")
    signal = pytest.importorskip("signal")
    store = MemoryStore()
    (tmp_path / "data").mkdir()
    big = os.urandom(2**20)
    (tmp_path / "data" / "big.bin").write_bytes(big)
    literal = encode(str(tmp_path / "data"), describe(Directory), store, "d")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**16, hard))
    try:
        with pytest.raises(OSError):
            decode(literal, describe(Directory), store, "d")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    back = decode(literal, describe(Directory), store, "d")
    assert os.listdir(back) == ["big.bin"]
    assert pathlib.Path(back, "big.bin").read_bytes() == big


def test_the_same_content_under_another_name_leaves_a_held_copy_whole(tmp_path, graft_dirs):
    """A local run returns a folder named `tmpa1`, a remote run the same files as `tmpb2`:
    reading the second must not empty the copy the first gave the caller."""
    store = MemoryStore()
    for name in ("tmpa1", "tmpb2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.txt").write_text("same")
    first = decode(encode(str(tmp_path / "tmpa1"), describe(Directory), store, "d"),
                   describe(Directory), store, "d")
    second = decode(encode(str(tmp_path / "tmpb2"), describe(Directory), store, "d"),
                    describe(Directory), store, "d")
    assert os.path.basename(str(second)) == "tmpb2"
    assert pathlib.Path(first, "x.txt").read_text() == "same"
    assert pathlib.Path(second, "x.txt").read_text() == "same"


def test_not_a_directory(tmp_path):
    with pytest.raises(TypeConversionError, match=r"^d: '.*/nothing' is not a directory$"):
        encode(str(tmp_path / "nothing"), describe(Directory), MemoryStore(), "d")


# ---- resource quantities ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "n_bytes"), [
    ("600Mi", 600 * 2**20),
    ("1Gi", 2**30),
    ("16Gi", 16 * 2**30),
    ("2Ki", 2048),
    ("1Ti", 2**40),
    ("1K", 1000),
    ("1k", 1000),
    ("5M", 5 * 10**6),
    ("2G", 2 * 10**9),
    ("1048576", 1048576),
    (" 1Gi ", 2**30),
    ("1.5Gi", 3 * 2**29),
    (4096, 4096),
    (0, 0),
])
def test_memory_quantities(text, n_bytes):
    assert parse_memory(text) == n_bytes


@pytest.mark.parametrize("text", ["12Q", "Mi", "-1Gi", "", "1 GB", "1e3", "1Mib", "one"])
def test_malformed_memory_quantities(text):
    with pytest.raises(ConfigError) as info:
        parse_memory(text, what="limits of task t")
    assert str(info.value).startswith(f"limits of task t: malformed quantity {text!r}")
    assert "e.g. '600Mi' or '2Gi'" in str(info.value)


@pytest.mark.parametrize(("value", "message"), [
    (True, "mem: expected a quantity like '600Mi', got True"),
    (-5, "mem: a quantity cannot be negative, got -5"),
    (1.5, "mem: expected a quantity like '600Mi', got float"),
])
def test_memory_quantity_of_wrong_kind(value, message):
    with pytest.raises(ConfigError) as info:
        parse_memory(value, what="mem")
    assert str(info.value) == message


def test_cpu_quantities_and_formatting():
    assert parse_cpu("500m") == 0.5
    assert parse_cpu("2") == 2.0
    assert parse_cpu(0.25) == 0.25
    with pytest.raises(ConfigError, match="cpu: malformed CPU quantity '2 cores'"):
        parse_cpu("2 cores")
    assert [format_memory(n) for n in (2**30, 600 * 2**20, 3072, 1536, 1000, 0)] == [
        "1Gi", "600Mi", "3Ki", "1536", "1000", "0"]


def test_resources_to_json():
    assert Resources(cpu="500m", mem="1Gi", gpu="1").to_json() == {
        "cpu": 0.5, "mem_bytes": 2**30, "gpu": 1}
    assert Resources().to_json() == {}
    assert Resources(mem="600Mi").memory_bytes == 600 * 2**20
    assert Resources(cpu=2).cpu_cores == 2.0


@pytest.mark.parametrize("gpu", ["x", "1.5", "-1", -1, 1.0, True, ""])
def test_malformed_gpu_count_fails_at_decoration(gpu):
    with pytest.raises(ConfigError) as info:
        Resources(gpu=gpu)
    assert str(info.value) == (f"Resources(gpu=...): expected a whole number of GPUs like 1 or "
                               f"'2', got {gpu!r}")
    assert Resources(gpu=0).to_json() == {"gpu": 0}
    assert Resources(gpu=" 2 ").to_json() == {"gpu": 2}


def test_tiers_parse_sorted_and_name_queues():
    assert parse_tiers("4Gi, 256Mi,1Gi") == [256 * 2**20, 2**30, 4 * 2**30]
    assert tier_queue(2**30) == "mem-1Gi"
    assert tier_queue(256 * 2**20) == "mem-256Mi"
    with pytest.raises(ConfigError, match="GRAFT_TIERS is empty"):
        parse_tiers(" , ")
    with pytest.raises(ConfigError, match="GRAFT_TIERS entry '1X': malformed quantity"):
        parse_tiers("1Gi,1X")


# ---- descriptors from messages cannot name arbitrary callables ----------------------------

@pytest.mark.parametrize("desc, kind", [
    ({"t": "dataclass", "ref": "os:system", "fields": {"command": {"t": "str"}}}, "a dataclass"),
    ({"t": "dataclass", "ref": "subprocess:Popen", "fields": {"args": {"t": "str"}}},
     "a dataclass"),
    ({"t": "enum", "ref": "os:system", "values": ["x"]}, "an Enum"),
    ({"t": "enum", "ref": "builtins:eval", "values": ["x"]}, "an Enum"),
])
def test_a_descriptor_naming_something_else_than_its_kind_is_refused_before_any_call(
        desc, kind, monkeypatch):
    import os
    import subprocess

    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    monkeypatch.setattr(subprocess, "Popen", type("Popen", (), {
        "__init__": lambda self, *a, **k: called.append(a)}))
    literal = {"command": "touch /tmp/pwned", "args": "x"} if desc["t"] == "dataclass" else "x"
    with pytest.raises(TypeConversionError, match=f"is declared as {kind}"):
        decode(literal, desc, MemoryStore(), "input 'x'")
    assert called == []


def test_a_pickled_value_is_unpickled_only_when_it_matches_its_key():
    store = MemoryStore()
    lit = encode(Opaque(3, 1.0), {"t": "pickle", "ref": None}, store, "v")
    store.put(lit["pickle"], b"cos\nsystem\n(S'echo pwned'\ntR.")  # a different pickle
    with pytest.raises(StoreIntegrityError, match="does not match the hash in its key"):
        decode(lit, {"t": "pickle", "ref": None}, store, "v")
