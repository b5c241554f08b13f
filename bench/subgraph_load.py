"""The scheduler's load of a dynamic's sub-graph: peak RSS above the process's RSS before it,
per node, when `scheduler.subgraphs.load_subgraph` reads, verifies, parses (lazily) and
checks the sub-graph `bench_workflows.fan(n=N)` reports, from a folder store. At 1,000,000
nodes this step set the scheduler's peak in issue 26's run (701 MiB, where it held ~275).

    python bench/subgraph_load.py --before /work/main                  # 10^5 and 10^6
    python bench/subgraph_load.py --before /work/main --sizes 300000

The sub-graph's text is written here in the worker's format (checked against a real body's
at N = 5), so that 10^6 nodes take seconds, not the body's minutes. Each measurement runs in
a fresh process with the code of a source tree: this worktree ("after") and, with
`--before PATH`, another checkout ("before"), interleaved, twice each.
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
import json, sys, time
sys.path[:0] = [sys.argv[1]]
from scheduler.subgraphs import load_subgraph
from sdk.model.config import Settings
from sdk.values.store import FsspecStore


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024


store = FsspecStore(sys.argv[2])
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # VmHWM from here
started = time.perf_counter()
sub = load_subgraph(store, Settings(), sys.argv[3], "fan")
print(json.dumps({"seconds": time.perf_counter() - started, "nodes": len(sub.nodes),
                  "peak": status("VmHWM") - before, "held": status("VmRSS") - before}))
"""


def fan_text(n: int) -> str:
    """The sub-graph `fan(n=n)` reports, as the worker writes it."""
    ids = ["noop"] + [f"noop-{i}" for i in range(1, n)]
    nodes = ",".join(f'{{"id":"{nid}","task":"noop","inputs":{{"x":{{"val":{{"v":{i}}}}}}}}}'
                     for i, nid in enumerate(ids))
    refs = ",".join(f'{{"ref":["{nid}","o0"]}}' for nid in ids)
    return ('{"version":2,"tasks":{"noop":{"kind":"task","task":{"module":"bench_workflows",'
            '"qualname":"noop"},"interface":{"inputs":{"x":{"t":"int"}},"outputs":{"o0":'
            '{"t":"int"}}}}},"name":"fan","inputs":{"n":{"t":"int"}},"nodes":[' + nodes
            + '],"outputs":[{"name":"o0","type":{"t":"list","of":{"t":"int"}},"binding":'
            '{"list":[' + refs + ']}}],"output_style":"single","output_ref":null}')


def check_format() -> None:
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    from bench_workflows import fan

    from sdk.runtime.execute import execute
    from sdk.values.store import MemoryStore

    inputs = {"n": {"val": {"v": 5}}}
    ran = execute(fan.node_spec("fan", inputs), fan, inputs, MemoryStore(), node_id="fan",
                  attempt=1)
    if ran.report.subgraph.dumps() != fan_text(5):
        raise SystemExit("the worker's sub-graph format changed: update fan_text")


def measure(tree: str, folder: str, key: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, tree, folder, key], check=True,
                         capture_output=True, text=True, cwd=tree,
                         env={**os.environ, "PYTHONPATH": tree}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="a source tree to measure first (e.g. /work/main)")
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    check_format()
    from sdk.values.store import FsspecStore, put_blob

    trees = ([("before", args.before)] if args.before else []) + [("after", str(HERE.parent))]
    print("| nodes | code | peak RSS above before | bytes / node | held after | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="graft-subgraph-load-") as folder:
            key = put_blob(FsspecStore(folder), fan_text(n).encode(), prefix="subgraphs")
            for _ in range(2):
                for name, tree in trees:
                    r = measure(tree, folder, key)
                    assert r["nodes"] == n, r
                    print(f"| {n:,} | {name} | {r['peak'] / 2**20:.1f} MiB | "
                          f"{r['peak'] / n:.0f} | {r['held'] / 2**20:.1f} MiB | "
                          f"{r['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
