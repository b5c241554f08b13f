"""Large lists in and out of a task: the peak resident memory and the time a worker's runner
spends receiving a list of 10^5 or 10^6 items (reading its inputs and building the value the
task gets) and returning one (the output's literal and store object), this tree against
another commit's (`--baseline`, default `main`) in the same run.

Each figure is measured in a fresh process of its own, as a runner holds one attempt: the
inputs or the list to return are made before the measure starts, the peak is the rise of
VmHWM (reset through /proc/self/clear_refs) above the resident memory at that point, and the
time is the median of 3 processes. Cases:

* receive, one binding an item: the inputs a collected fan-out resolves to today,
  `{"xs": {"list": [{"val": {"v": x}}, ...]}}`, in the store (`inputs/<sha>`);
* receive, stored list: `{"xs": {"val": {"u": key}}}`, the object under `key` being what
  the checkout's `to_ref` writes for the list (this tree: a `.npy` buffer for numbers, JSON
  for strings; the baseline: JSON);
* return: `value_binding` of the list (encoded, checked, written to the store).

    nice -n 19 python bench/large_lists.py                  # about 2 minutes
    nice -n 19 python bench/large_lists.py --sizes 100000   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = int(os.environ.get("REPEATS", "3"))

# An editable install's finder would import this tree's packages for the baseline too.
UNEDITABLE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if not "
              "getattr(f, '__module__', '').startswith('__editable__')]\n")

CHILD = UNEDITABLE + r"""
import json, time
from typing import List
from sdk.values.store import FsspecStore, get_verified
from sdk.values.handlers import describe
from sdk.values import literals

case, kind, n, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = FsspecStore(folder)
desc = describe({"int": List[int], "str": List[str], "float": List[float]}[kind])
try:
    from sdk.model.bindings import loads_inputs
except ImportError:  # the baseline: what its worker does
    loads_inputs = json.loads


def status(field):
    text = open("/proc/self/status").read()
    return int(text.split(field + ":")[1].split()[0]) * 1024


def items():
    if kind == "int":
        return [i * 7 - 3 for i in range(n)]
    if kind == "float":
        return [i / 4 for i in range(n)]
    return [f"item-{i}" for i in range(n)]


if case == "return":
    value = items()
    literals.value_binding(value[:1], desc, store, "warm-up")
else:
    key = open(f"{folder}/{case}-{kind}-{n}.key").read()
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
started = time.perf_counter()
if case == "return":
    literals.value_binding(value, desc, store, "output")
else:
    inputs = loads_inputs(get_verified(store, key))
    value = literals.load(inputs["xs"], desc, store, "input")
    del inputs
elapsed = time.perf_counter() - started
peak = status("VmHWM") - base
assert len(value) == n, len(value)
assert literals.__file__.startswith(sys.argv[5]), (literals.__file__, sys.argv[5])
print(json.dumps({"peak": peak, "s": elapsed, "base": base}))
"""


def prepare(code: Path, folder: Path, kind: str, n: int) -> None:
    """The inputs documents of the receive cases, written with checkout `code`."""
    script = UNEDITABLE + r"""
from typing import List
from sdk.values.store import FsspecStore, put_blob
from sdk.values.handlers import describe
from sdk.values.literals import dumps, encode, to_ref
kind, n, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
store = FsspecStore(folder)
value = {"int": lambda i: i * 7 - 3, "float": lambda i: i / 4, "str": lambda i: f"item-{i}"}
value = [value[kind](i) for i in range(n)]
desc = describe({"int": List[int], "str": List[str], "float": List[float]}[kind])
lit = encode(value, desc, store, "x")
docs = {"bindings": {"xs": {"list": [{"val": {"v": x}} for x in lit]}},
        "stored": {"xs": {"val": to_ref(lit, store)}}}
for case, doc in docs.items():
    with open(f"{folder}/{case}-{kind}-{n}.key", "w") as fh:
        fh.write(put_blob(store, dumps(doc), prefix="inputs"))
"""
    subprocess.run([sys.executable, "-c", script, kind, str(n), str(folder)], check=True,
                   cwd=folder, env={**os.environ, "PYTHONPATH": str(code)})


def measure(code: Path, folder: Path, case: str, kind: str, n: int) -> dict[str, float]:
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", CHILD, case, kind, str(n), str(folder),
                              str(code)],
                             capture_output=True, text=True, cwd=folder,
                             env={**os.environ, "PYTHONPATH": str(code)})
        if out.returncode:
            raise SystemExit(f"{case} {kind} {n} with {code} failed:\n{out.stderr}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"peak": statistics.median(r["peak"] for r in runs),
            "s": statistics.median(r["s"] for r in runs),
            "base": statistics.median(r["base"] for r in runs)}


def checkout(rev: str, into: Path) -> Path:
    """The `sdk` and `worker` packages of commit `rev`, extracted under `into`."""
    archive = into / "baseline.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev, "sdk",
                    "worker"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "baseline", filter="data")
    return into / "baseline"


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="the commit to compare with")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--kinds", default="int,float,str")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    with tempfile.TemporaryDirectory(prefix="graft-large-lists-") as tmp:
        base_code = checkout(args.baseline, Path(tmp))
        trees = {"baseline": base_code, "this tree": ROOT}
        print(f"baseline {args.baseline}; peak MiB above the runner's resident memory, median "
              f"of {REPEATS} processes; ratio = this tree / baseline\n")
        print("| case | type | items | baseline MiB | this tree MiB | ratio | baseline s "
              "| this tree s | ratio |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for n in sizes:
            for kind in kinds:
                folders = {}
                for name, code in trees.items():
                    folders[name] = Path(tmp) / f"store-{name.replace(' ', '-')}"
                    folders[name].mkdir(exist_ok=True)
                    prepare(code, folders[name], kind, n)
                for case, label in (("bindings", "receive, a binding an item"),
                                    ("stored", "receive, stored list"),
                                    ("return", "return")):
                    got = {name: measure(code, folders[name], case, kind, n)
                           for name, code in trees.items()}
                    old, new = got["baseline"], got["this tree"]
                    print(f"| {label} | {kind} | {n:,} | {mib(old['peak'])} | "
                          f"{mib(new['peak'])} | {new['peak'] / max(old['peak'], 1):.2f} | "
                          f"{old['s']:.3f} | {new['s']:.3f} | {new['s'] / old['s']:.2f} |",
                          flush=True)


if __name__ == "__main__":
    main()
