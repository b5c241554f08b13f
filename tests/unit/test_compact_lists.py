"""Large lists in the store: `.npy` buffers for numbers and booleans (sdk.values.compact),
and the light reading of a node's inputs that hold a list binding per item
(sdk.model.bindings.loads_inputs)."""

import json
import math
from typing import Any, List, Optional, Tuple

import pytest

from sdk import StoreIntegrityError
from sdk.model.bindings import loads_inputs
from sdk.values import compact
from sdk.values.handlers import describe
from sdk.values.literals import decode, dumps, encode, from_ref, load, to_ref
from sdk.values.store import MemoryStore, put_blob, sha256

N = 5000

LISTS = [
    (List[int], [i * 7 - 3 for i in range(N)] + [2**63 - 1, -(2**63)]),
    (List[float], [i / 3 for i in range(N)] + [math.inf, -0.0, 1e300]),
    (List[bool], [i % 3 == 0 for i in range(N)]),
    (List[str], [f"item-{i}-é" for i in range(N)]),
]


def _stored(store, ref):
    return store.get(ref["u"])


@pytest.mark.parametrize(("tp", "value"), LISTS, ids=["int", "float", "bool", "str"])
def test_large_lists_round_trip_each_item_type(tp, value):
    store = MemoryStore()
    desc = describe(tp)
    ref = to_ref(encode(value, desc, store, "v"), store)
    back = decode(from_ref(json.loads(json.dumps(ref)), store), desc, store, "v")
    assert back == value and type(back) is list
    assert [type(x) for x in back] == [type(x) for x in value]
    data = _stored(store, ref)
    if tp is List[str]:
        assert json.loads(data) == value  # strings stay a JSON list
    else:
        assert compact.is_compact(data)
        assert len(data) <= 128 + 8 * len(value)  # the header, then 8 bytes an item at most


def test_nan_survives_and_ints_as_floats_come_back_floats():
    store = MemoryStore()
    desc = describe(List[float])
    ref = to_ref(encode([float("nan"), *list(range(N))], desc, store, "v"), store)
    back = decode(from_ref(ref, store), desc, store, "v")
    assert math.isnan(back[0]) and back[1:] == [float(i) for i in range(N)]
    assert all(type(x) is float for x in back)


def test_the_buffer_is_a_npy_file_numpy_reads():
    np = pytest.importorskip("numpy")
    import io

    store = MemoryStore()
    for value, dtype in ([list(range(N)), "int64"], [[i / 2 for i in range(N)], "float64"],
                         [[i % 2 == 0 for i in range(N)], "bool"]):
        array = np.load(io.BytesIO(_stored(store, to_ref(value, store))), allow_pickle=False)
        assert array.dtype == dtype and array.tolist() == value


def test_the_same_list_gives_the_same_key():
    store = MemoryStore()
    assert to_ref(list(range(N)), store) == to_ref(list(range(N)), store)


@pytest.mark.parametrize("value", [
    [1, 2, 3],  # small: inline
    [None, *list(range(N))],  # Optional items
    [True, *list(range(N))],  # a bool among ints
    [1.5, *list(range(N))],  # mixed numbers
    [2 ** 64, *list(range(N))],  # beyond int64
    ["a", *list(range(N))],  # mixed types
    [[1]] * N,  # not scalars
], ids=["small", "none", "bool-among-ints", "mixed-numbers", "big-int", "mixed", "nested"])
def test_other_lists_keep_the_json_form(value):
    store = MemoryStore()
    ref = to_ref(value, store)
    if "v" in ref:
        assert ref == {"v": value}
        return
    data = _stored(store, ref)
    assert data == dumps(value) and from_ref(ref, store) == value


def test_optional_items_fall_back_and_round_trip():
    store = MemoryStore()
    desc = describe(List[Optional[int]])
    value = [None if i % 10 == 0 else i for i in range(N)]
    ref = to_ref(encode(value, desc, store, "v"), store)
    assert not compact.is_compact(_stored(store, ref))
    assert decode(from_ref(ref, store), desc, store, "v") == value
    all_set = list(range(N))  # no None: stored compact, read back as Optional[int] items
    ref = to_ref(encode(all_set, desc, store, "v"), store)
    assert compact.is_compact(_stored(store, ref))
    assert decode(from_ref(ref, store), desc, store, "v") == all_set


def test_a_mixed_list_is_refused_for_a_list_of_int():
    from sdk import TypeConversionError

    with pytest.raises(TypeConversionError, match="item 3"):
        encode([0, 1, 2, "3", *list(range(N))], describe(List[int]), MemoryStore(), "output")


def _put_raw(store, data):
    """Store bytes under their own hash, as a writer that got them wrong would."""
    return put_blob(store, data, prefix="values")


def test_a_tampered_buffer_is_a_store_error_naming_the_key():
    store = MemoryStore()
    ref = to_ref(list(range(N)), store)
    data = bytearray(_stored(store, ref))
    data[-1] ^= 1
    store.put(ref["u"], bytes(data))
    with pytest.raises(StoreIntegrityError, match=ref["u"]):
        from_ref(ref, store)


@pytest.mark.parametrize(("cut", "why"), [
    (lambda d: d[:-8], "truncated or overlong"),
    (lambda d: d[:40], "not a list buffer graft wrote"),
    (lambda d: d[:12], "not a list buffer graft wrote"),
    (lambda d: d.replace(b"<i8", b">i8"), "not a list buffer graft wrote"),
    (lambda d: d.replace(b"(5000,)", b"(4000,)"), "truncated or overlong"),
], ids=["short-data", "short-header", "cut-header", "other-dtype", "wrong-count"])
def test_a_malformed_buffer_under_its_own_hash_is_a_store_error_naming_the_key(cut, why):
    store = MemoryStore()
    good = _stored(store, to_ref(list(range(N)), store))
    key = _put_raw(store, cut(good))
    with pytest.raises(StoreIntegrityError, match=why) as info:
        from_ref({"u": key}, store)
    assert key in str(info.value)


def test_bytes_that_are_no_booleans_are_refused():
    store = MemoryStore()
    good = _stored(store, to_ref([True] * N, store))
    key = _put_raw(store, good[:-1] + b"\x02")
    with pytest.raises(StoreIntegrityError, match="no booleans"):
        from_ref({"u": key}, store)


def test_stored_bytes_that_are_not_json_name_the_key():
    store = MemoryStore()
    key = _put_raw(store, b"[1, 2,")
    with pytest.raises(StoreIntegrityError, match=key):
        from_ref({"u": key}, store)
    assert key.endswith(sha256(b"[1, 2,"))


# ---- inputs with a binding per item ---------------------------------------------------

def _per_item(values: list[Any]) -> dict[str, Any]:
    return {"list": [{"val": {"v": x}} for x in values]}


@pytest.mark.parametrize("values", [list(range(100)), [f"s{i}" for i in range(50)],
                                    [1.5, 2.5], [True, False], [None, 1]])
def test_a_binding_per_item_is_read_as_one_value(values):
    data = dumps({"xs": _per_item(values), "n": {"val": {"v": 3}}})
    inputs = loads_inputs(data)
    assert inputs == {"xs": {"val": {"v": values}}, "n": {"val": {"v": 3}}}
    store = MemoryStore()
    assert load(inputs["xs"], describe(List[Any]), store, "xs") == values


def test_other_bindings_read_as_json_does():
    docs = [
        {"xs": {"list": [{"val": {"v": 1}}, {"ref": ["a", "o"]}]}},
        {"xs": {"list": [{"val": {"v": 1, "h": "abc"}}]}},
        {"xs": {"list": [{"val": {"v": 1}}, {"val": {"u": "values/" + "0" * 64}}]}},
        {"xs": {"list": []}},
        {"xs": {"dict": {"a": _per_item([1, 2]), "b": {"val": {"v": {"v": 1}}}}}},
        {"xs": {"path": {"of": _per_item([1, 2]), "steps": [["index", 0]], "from": "a.o"}}},
        # literals holding what looks like bindings are left as they are
        {"xs": {"val": {"v": {"list": [{"val": {"v": 1}}], "k": [{"v": 2}, [{"v": 3}]]}}}},
        {"xs": {"val": {"v": [{"val": {"v": 1}}, {"v": None}]}}},
        {"xs": {"val": {"v": {"list": [{"val": {"v": 1}}]}}}},
    ]
    for doc in docs:
        data = dumps(doc)
        store = MemoryStore()
        parsed = loads_inputs(data)
        assert dumps(_resolved(parsed, store)) == dumps(_resolved(json.loads(data), store))
        if "ref" not in data.decode() and "path" not in doc["xs"]:
            assert parsed == json.loads(data) or "dict" in doc["xs"]


def _resolved(inputs, store):
    from sdk.values.literals import materialize

    out = {}
    for name, b in inputs.items():
        try:
            out[name] = materialize(b, store)
        except Exception as exc:  # an unresolved ref: compared by its text
            out[name] = type(exc).__name__
    return out


def test_tuples_and_lists_of_lists_still_go_item_by_item():
    store = MemoryStore()
    for tp, value in ((Tuple[int, str], (1, "a")),
                      (List[Tuple[int, int]], [(i, i) for i in range(N)]),
                      (List[List[int]], [[i] * 3 for i in range(N)])):
        desc = describe(tp)
        ref = to_ref(encode(value, desc, store, "v"), store)
        assert decode(from_ref(ref, store), desc, store, "v") == value
