"""Spec size: bytes per node of a graph spec, and the scheduler's cost of loading one, in the
version 1 format (every node carries its task definition) against version 2 (task templates
kept once per document, nodes referring to them).

Shapes, compiled by graft's own compiler from `bench_workflows`:

* fan-out N: the sub-graph `fan(n=N)` (a @dynamic) returns, N noop nodes with a literal input,
  as a worker stores it under `subgraphs/` (N = 1,000 and 10,000);
* chain: `chain_wf`, 200 noop nodes each bound to the previous one (a compiled workflow).

For a 100,000-node fan-out it also times `GraphSpec.loads` (what the scheduler does with a
sub-graph a worker reports; best of 3, garbage collector on, as in the scheduler) and measures
with tracemalloc the memory the parsed graph holds and the peak while parsing it (the JSON
text itself excluded); a third row parses v2 with every node given its own copy of its parsed
template, to show what sharing one among the nodes saves.

    python bench/spec_size.py            # about a minute
    python bench/spec_size.py --quick    # without the 100,000-node figures
"""

from __future__ import annotations

import copy
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_workflows as wf

from sdk.model import spec_json, spec_v1
from sdk.model.spec import GraphSpec
from sdk.values.store import MemoryStore

BUNDLE = "b" * 64  # a code bundle id as a client's upload names it (a sha256)


def v1_text(spec: GraphSpec) -> str:
    return json.dumps({"version": 1, **spec_v1.graph_to_json(spec)}, separators=(",", ":"))


def fan_out(n: int) -> GraphSpec:
    return wf.fan.expand({"n": n}, MemoryStore(), BUNDLE)


def sizes(label: str, spec: GraphSpec, n: int) -> None:
    old, new = len(v1_text(spec).encode()), len(spec.dumps().encode())
    print(f"| {label} | {old / n:.0f} | {new / n:.0f} | {old / new:.1f}x | "
          f"{old / 1e6:.2f} MB -> {new / 1e6:.2f} MB |")


def load_cost(label: str, text: str) -> None:
    best = min(_timed(text) for _ in range(3))
    gc.collect()
    tracemalloc.start()
    spec = GraphSpec.loads(text)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del spec
    gc.collect()
    print(f"| {label} | {len(text) / 1e6:.1f} MB | {best:.2f} s | {held / 2**20:.0f} MiB | "
          f"{peak / 2**20:.0f} MiB |")


def _timed(text: str) -> float:
    start = time.perf_counter()
    spec = GraphSpec.loads(text)
    elapsed = time.perf_counter() - start
    del spec
    gc.collect()
    return elapsed


def main() -> None:
    quick = "--quick" in sys.argv
    print("| shape | v1 bytes/node | v2 bytes/node | v1/v2 | spec |")
    print("| --- | --- | --- | --- | --- |")
    for n in (1_000, 10_000):
        sizes(f"fan-out {n:,}", fan_out(n), n)
    sizes(f"chain {wf.CHAIN_NODES}", wf.chain_wf.compile(), wf.CHAIN_NODES)
    if quick:
        return
    big = fan_out(100_000)
    old, new = v1_text(big), big.dumps()
    del big
    gc.collect()
    print()
    print("| 100,000-node fan-out | JSON | GraphSpec.loads | held after parsing | peak parsing |")
    print("| --- | --- | --- | --- | --- |")
    load_cost("v1", old)
    load_cost("v2", new)
    shared = spec_json._Reader.template
    spec_json._Reader.template = lambda self, tid, at: copy.deepcopy(shared(self, tid, at))
    try:  # what sharing one parsed template among its nodes saves
        load_cost("v2, each node its own copy of the template", new)
    finally:
        spec_json._Reader.template = shared


if __name__ == "__main__":
    main()
