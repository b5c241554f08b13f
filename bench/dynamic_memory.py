"""A dynamic's own memory: the worker's peak resident memory above its baseline, per node it
generates, when a dynamic body builds a fan-out of N nodes (issue 26, point 4).

Each measurement runs in a fresh subprocess what a worker does with the dynamic's task
message (`worker.attempt.run_attempt`: run the body in compile mode, write the sub-graph,
store it under `subgraphs/` in a folder store), for `bench_workflows.fan(n=N)`, with the code
of a given source tree: this worktree ("after") and, with `--before PATH`, another checkout
(e.g. `main`, "before"), in the same run, interleaved. The figure is
`(ru_maxrss at the end - VmRSS before the attempt) / N`.

    python bench/dynamic_memory.py --before /work/main                 # 10^4 and 10^5
    python bench/dynamic_memory.py --before /work/main --sizes 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = r"""
import gc, json, resource, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/bench"]
import sdk  # noqa: F401
from bench_workflows import fan
from sdk.model.spec import node_to_json
from sdk.values.store import FsspecStore
from worker.attempt import run_attempt

n, folder = int(sys.argv[2]), sys.argv[3]
store = FsspecStore(folder)
spec = fan.node_spec("fan", {"n": {"val": {"v": n}}})
payload = {"token": "t", "spec": node_to_json(spec), "inputs": {"n": {"val": {"v": n}}}}


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024


gc.collect()
base = rss()
started = time.perf_counter()
message = run_attempt(store, "bench", "fan", 1, payload)
seconds = time.perf_counter() - started
assert message["outcome"] == "subgraph", message
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "seconds": seconds,
                  "spec_bytes": store.fs.size(store._path(message["subgraph"]))}))
"""


def measure(tree: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="graft-dynmem-") as folder:
        out = subprocess.run([sys.executable, "-c", CHILD, tree, str(n), folder], check=True,
                             capture_output=True, text=True, cwd=tree,
                             env={**os.environ, "PYTHONPATH": tree}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="a source tree to measure first (e.g. /work/main)")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    trees = ([("before", args.before)] if args.before else []) + [("after", str(HERE.parent))]
    print("| nodes | code | peak RSS above baseline | bytes / node | seconds | spec bytes / node |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in (int(s) for s in args.sizes.split(",")):
        for name, tree in trees:
            r = measure(tree, n)
            above = r["peak"] - r["base"]
            print(f"| {n:,} | {name} | {above / 2**20:.1f} MiB | {above / n:.0f} | "
                  f"{r['seconds']:.1f} | {r['spec_bytes'] / n:.0f} |", flush=True)


if __name__ == "__main__":
    main()
