"""The conformance suite's data format: reading cases.json, building a case's inputs, and
encoding a returned value (or a raised exception) as JSON.

Stdlib only (pandas and numpy are used when a value is one of theirs), with no flytekit and no
graft import: the recorder (record_flytekit.py, run under flytekit) and graft's side use the
same functions, so that comparing two runs is comparing two JSON documents. The format is
described in README.md beside this file.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.json"
OUTPUTS = HERE / "flytekit_outputs.json"
EXAMPLES = HERE / "examples"
DATA = HERE / "data"


def load_cases(path: Path = CASES) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_outputs(path: Path = OUTPUTS) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- inputs -----------------------------------------------------------------------------------


def decode_input(value: Any, module: Any = None) -> Any:
    """A case's input as the Python value to pass.

    Plain JSON stands for itself (a JSON float is a Python float, a JSON integer an int). Tagged
    objects (one key starting with "$"):
      {"$data": "biostats.csv"}      the absolute path of tests/conformance/data/biostats.csv
      {"$data_url": "biostats.csv"}  the same file as a file:// URL
      {"$datetime": "2024-01-02T03:04:05"}          datetime.datetime.fromisoformat(...)
      {"$enum": "Coffee", "value": "latte"}         module.Coffee("latte")
    """
    if isinstance(value, list):
        return [decode_input(v, module) for v in value]
    if isinstance(value, dict):
        if "$data" in value:
            return str(DATA / value["$data"])
        if "$data_url" in value:
            return (DATA / value["$data_url"]).as_uri()
        if "$datetime" in value:
            return _dt.datetime.fromisoformat(value["$datetime"])
        if "$enum" in value:
            return getattr(module, value["$enum"])(value["value"])
        return {k: decode_input(v, module) for k, v in value.items()}
    return value


def case_inputs(case: dict, module: Any = None) -> dict:
    return {k: decode_input(v, module) for k, v in case.get("inputs", {}).items()}


# --- outputs ----------------------------------------------------------------------------------


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _encode_path(path: str) -> dict:
    if os.path.isdir(path):
        files = {}
        for root, _dirs, names in os.walk(path):
            for name in names:
                full = os.path.join(root, name)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                files[rel] = {"sha256": _sha256(full), "size": os.path.getsize(full)}
        return {"$dir": {"files": dict(sorted(files.items()))}}
    return {
        "$file": {
            "name": os.path.basename(path),
            "sha256": _sha256(path),
            "size": os.path.getsize(path),
        }
    }


def _encode_float(x: float) -> Any:
    if math.isnan(x):
        return {"$float": "nan"}
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return x


def _encode_dataframe(df: Any) -> dict:
    return {
        "$dataframe": {
            "columns": [encode_value(c) for c in df.columns],
            "dtypes": [str(t) for t in df.dtypes],
            "index": [encode_value(i) for i in df.index.tolist()],
            "records": [[encode_value(v) for v in row] for row in df.itertuples(index=False)],
        }
    }


def _class_name(v: Any) -> str:
    return type(v).__name__


def encode_value(v: Any) -> Any:
    """A returned value as JSON. Containers are encoded recursively.

    None, bool, int, str: themselves. float: itself, or {"$float": "nan"|"inf"|"-inf"}.
    list: a JSON array. dict: a JSON object when every key is a str not starting with "$",
    else {"$dict": [[key, value], ...]}. tuple: {"$tuple": [...]}, a NamedTuple
    {"$tuple": [...], "class": name, "fields": [names]}. bytes: {"$bytes": base64}.
    dataclass: {"$dataclass": class name, "fields": {name: value}}; pydantic model:
    {"$pydantic": class name, "fields": {...}}. Enum: {"$enum": class, "name": .., "value": ..}.
    datetime/date/timedelta: {"$datetime"|"$date": iso} / {"$timedelta": seconds}.
    A file (anything path-like that is a file): {"$file": {"name", "sha256", "size"}}; a
    directory: {"$dir": {"files": {relative path: {"sha256", "size"}}}}.
    pandas DataFrame: {"$dataframe": {"columns", "dtypes", "index", "records"}}; Series:
    {"$series": {"name", "dtype", "index", "values"}}; numpy array: {"$ndarray": {"dtype",
    "shape", "data"}} (numpy scalars become Python scalars). A StructuredDataset (or a
    FlyteSchema): {"$structured_dataset": {"class": name, "dataframe": the $dataframe of
    .open(pandas.DataFrame).all()}}. An iterator: {"$iterator": [items]}. Any other object:
    {"$object": class name, "attrs": {its __dict__}}, or {"$repr": repr(v)}.
    """
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, enum.Enum):
        return {"$enum": _class_name(v), "name": v.name, "value": encode_value(v.value)}
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return _encode_float(float(v))
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, _dt.datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, _dt.date):
        return {"$date": v.isoformat()}
    if isinstance(v, _dt.timedelta):
        return {"$timedelta": v.total_seconds()}
    np = _maybe("numpy")
    if np is not None:
        if isinstance(v, np.ndarray):
            return {
                "$ndarray": {
                    "dtype": str(v.dtype),
                    "shape": list(v.shape),
                    "data": encode_value(v.tolist()),
                }
            }
        if isinstance(v, np.generic):
            return encode_value(v.item())
    pd = _maybe("pandas")
    if pd is not None:
        if isinstance(v, pd.DataFrame):
            return _encode_dataframe(v)
        if isinstance(v, pd.Series):
            return {
                "$series": {
                    "name": encode_value(v.name),
                    "dtype": str(v.dtype),
                    "index": [encode_value(i) for i in v.index.tolist()],
                    "values": [encode_value(x) for x in v.tolist()],
                }
            }
        if isinstance(v, pd.Timestamp):
            return {"$datetime": v.isoformat()}
        if v is pd.NaT:
            return {"$float": "nan"}
    if isinstance(v, tuple):
        items = [encode_value(x) for x in v]
        if hasattr(v, "_fields"):
            return {"$tuple": items, "class": _class_name(v), "fields": list(v._fields)}
        return {"$tuple": items}
    if isinstance(v, list):
        return [encode_value(x) for x in v]
    if isinstance(v, Mapping):
        if all(isinstance(k, str) and not k.startswith("$") for k in v):
            return {k: encode_value(x) for k, x in v.items()}
        return {"$dict": [[encode_value(k), encode_value(x)] for k, x in v.items()]}
    # files, directories and tables first: flytekit's are dataclasses too
    if _looks_tabular(v) and pd is not None:
        return {"$structured_dataset": {"class": _class_name(v), "dataframe": _open_table(v, pd)}}
    if isinstance(v, os.PathLike):
        return _encode_path(os.fspath(v))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields = {f.name: encode_value(getattr(v, f.name)) for f in dataclasses.fields(v)}
        return {"$dataclass": _class_name(v), "fields": fields}
    if hasattr(type(v), "model_fields") and hasattr(v, "model_dump"):
        fields = {name: encode_value(getattr(v, name)) for name in type(v).model_fields}
        return {"$pydantic": _class_name(v), "fields": fields}
    if isinstance(v, Iterator):
        return {"$iterator": [encode_value(x) for x in v]}
    if hasattr(v, "__dict__") and not callable(v):
        attrs = {k: encode_value(x) for k, x in vars(v).items() if not k.startswith("_")}
        return {"$object": _class_name(v), "attrs": attrs}
    return {"$repr": repr(v)}


def _looks_tabular(v: Any) -> bool:
    names = {c.__name__ for c in type(v).__mro__}
    return bool(names & {"StructuredDataset", "FlyteSchema"}) and hasattr(v, "open")


def _open_table(v: Any, pd: Any) -> Any:
    try:
        df = v.open(pd.DataFrame).all()
    except TypeError:  # FlyteSchema.open() takes no type
        df = v.open().all()
    return encode_value(df)


def _maybe(name: str) -> Any:
    import sys

    return sys.modules.get(name)


def encode_exception(exc: BaseException) -> dict:
    """{"type", "module", "message", "chain": [{"type", "message"}, ...]} where chain follows
    __cause__ (else __context__) from the raised exception down to the first one raised (the
    last element, usually the user's own exception)."""
    chain = []
    seen = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append({"type": type(e).__name__, "message": str(e)})
        e = e.__cause__ or e.__context__
    return {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "message": str(exc),
        "chain": chain,
    }


def diff_paths(a: Any, b: Any, path: str = "") -> list[str]:
    """JSON Pointer paths at which two encoded values differ (used to mark the parts of a
    recording that change from run to run: temporary file names, clock readings, unseeded
    random numbers). A "*" step stands for every index of a list whose items all differ in
    the same places (so the list's length is still stable)."""
    if type(a) is not type(b):
        return [path or "/"]
    if isinstance(a, dict):
        if set(a) != set(b):
            return [path or "/"]
        out = []
        for k in a:
            key = k.replace("~", "~0").replace("/", "~1")  # JSON Pointer escaping
            out += diff_paths(a[k], b[k], f"{path}/{key}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [path or "/"]
        per_item = [diff_paths(x, y) for x, y in zip(a, b)]
        suffixes = [[p if p != "/" else "" for p in d] for d in per_item]
        if len(a) > 1 and all(suffixes) and all(s == suffixes[0] for s in suffixes):
            # every item differs in the same places: one wildcard path ("*": any index)
            return [f"{path}/*{s}" for s in suffixes[0]]
        out = []
        for i, s in enumerate(suffixes):
            out += [f"{path}/{i}{x}" for x in s]
        return out
    return [] if a == b else [path or "/"]


# --- running ----------------------------------------------------------------------------------


def import_example(name: str) -> tuple[Any, dict]:
    """Import an example module; returns (module or None, the "import" record)."""
    import contextlib
    import importlib
    import io

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            module = importlib.import_module(name)
    except Exception as e:  # recorded, not raised
        return None, {"ok": False, "error": encode_exception(e), "stdout": out.getvalue()}
    return module, {"ok": True, "stdout": out.getvalue()}


def run_case(module: Any, case: dict) -> dict:
    """Run one case in this process: write its `files`, set its `env`, give it `stdin`, call
    module.<call>(**inputs) (awaiting a coroutine), and return {"ok": true, "value": ...} or
    {"ok": false, "error": ...}, with the case's captured standard output in "stdout"."""
    import asyncio
    import contextlib
    import inspect
    import io
    import sys

    for path, content in case.get("files", {}).items():
        Path(path).write_text(content)
    saved_env = {k: os.environ.get(k) for k in case.get("env", {})}
    os.environ.update(case.get("env", {}))
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(case.get("stdin", ""))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            try:
                fn = getattr(module, case["call"])
                result = fn(**case_inputs(case, module))
                if inspect.iscoroutine(result):
                    result = asyncio.run(result)
                record = {"ok": True, "value": encode_value(result)}
            except Exception as e:  # the case's outcome: recorded, not raised
                record = {"ok": False, "error": encode_exception(e)}
    finally:
        sys.stdin = saved_stdin
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    record["stdout"] = out.getvalue()
    return record


def unstable(record: dict) -> list[str]:
    """The paths of a recorded outcome not to compare: those its record lists as changing from
    run to run, and the bytes of each Parquet file in a file or directory value. A Parquet
    file carries the versions of the library that wrote it (pandas' metadata, pyarrow's
    `created_by`), so its bytes follow the installed pandas, not the workflow engine; the
    table a StructuredDataset holds is compared as a `$dataframe` all the same."""
    paths = list(record.get("unstable", []))

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                step = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
                name = item.get("name", "") if key == "$file" and isinstance(item, dict) else key
                if str(name).endswith(".parquet") and isinstance(item, dict) and "sha256" in item:
                    paths.extend((f"{step}/sha256", f"{step}/size"))
                else:
                    walk(item, step)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}/{i}")

    if record.get("ok"):
        walk(record.get("value"), "/value")
    return paths


def without_paths(value: Any, paths: list[str]) -> Any:
    """A copy of an encoded record with the given JSON Pointer paths ("*" = any index)
    replaced by the string "<unstable>", for comparing two records."""
    import copy

    value = copy.deepcopy(value)

    def walk(node: Any, steps: list[str]) -> Any:
        if not steps:
            return "<unstable>"
        step, rest = steps[0].replace("~1", "/").replace("~0", "~"), steps[1:]
        if isinstance(node, list):
            idx = range(len(node)) if step == "*" else [int(step)] if step.isdigit() else []
            for i in idx:
                if i < len(node):
                    node[i] = walk(node[i], rest)
        elif isinstance(node, dict) and step in node:
            node[step] = walk(node[step], rest)
        return node

    for p in paths:
        value = walk(value, [s for s in p.split("/")[1:]] if p != "/" else [])
    return value
