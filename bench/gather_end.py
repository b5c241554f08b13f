"""The end of a large fan-out alone: the outputs of N finished nodes in the scheduler's SQL
state, made into the fan-out's output list, built whole as before or gathered into the
store a slice at a time (scheduler/gathering.py), each way in a fresh process.

    python bench/gather_end.py                 # N = 1,000,000 (a few minutes, most of it
                                               # the rows' insert)
    python bench/gather_end.py --items 100000

`whole` does what the batch that completed a fan-out did: read every output back from the
rows (`SqlState.node_outputs`), build the list binding and write it as JSON twice (the
dynamic's row and the execution's; the board wrote it twice more). `gathered` does what the
loop now does between batches: `SLICE` items at a time, their outputs read by id, their
literals appended to the list's text, which is written to a folder store as one value. Both
print the process's peak RSS over its RSS once the state is open, and the time; `gathered`
also the longest turn (about `TURN_S` of slices, as the loop runs them) and the value's bytes.
Figures depend on the machine's load (the time) but not the memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EID = "e" * 20


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def fill(url: str, items: int) -> None:
    """N node rows of one execution, each with the output {"o0": i + 1}."""
    from scheduler.state_sql import SqlState

    state = SqlState(url)
    base = {"execution_id": EID, "parent": "fan", "task": "noop", "kind": "task",
            "state": "SUCCEEDED", "attempt": 1, "queue": "mem-256Mi", "error": None,
            "token": None, "history": [], "cached": False, "started_at": 1.0,
            "ended_at": 2.0, "image": None}
    for start in range(0, items, 20_000):
        with state.transaction() as tx:
            tx.insert_nodes([{**base, "node_id": f"fan/noop-{i}",
                              "inputs": {"x": {"val": {"v": i}}},
                              "outputs": {"o0": {"val": {"v": i + 1}}}}
                             for i in range(start, min(items, start + 20_000))])


def whole(url: str, items: int, store_dir: str) -> dict[str, float]:
    from scheduler.state_sql import SqlState

    state = SqlState(url)
    ids = [f"fan/noop-{i}" for i in range(items)]
    before = rss_kib()
    started = time.perf_counter()
    with state.transaction() as tx:
        outputs = tx.node_outputs(EID, ids)
        binding = {"list": [outputs[nid]["o0"] for nid in ids]}
        written = [json.dumps({"o0": binding}, separators=(",", ":")) for _ in range(2)]
    took = time.perf_counter() - started
    return {"s": took, "longest turn s": took, "peak - before MiB":
            (rss_kib("VmHWM") - before) / 1024, "bytes": len(written[0])}


def gathered(url: str, items: int, store_dir: str) -> dict[str, float]:
    from itertools import islice

    from scheduler.gathering import TURN_S
    from scheduler.state_sql import SqlState
    from sdk.values.gathered import SLICE, ListText, literal
    from sdk.values.store import FsspecStore

    state = SqlState(url)
    store = FsspecStore(store_dir)
    before = rss_kib()
    started = time.perf_counter()
    refs = ({"ref": [f"fan/noop-{i}", "o0"]} for i in range(items))
    text, longest, done = ListText(), 0.0, False
    while not done:
        turn = time.perf_counter()
        with state.transaction() as tx:
            while time.perf_counter() - turn < TURN_S:
                chunk = list(islice(refs, SLICE))
                found = tx.node_outputs(EID, [r["ref"][0] for r in chunk])
                text.add([literal(found[r["ref"][0]]["o0"], store) for r in chunk])
                if len(chunk) < SLICE:
                    done = True
                    key = text.put(store)["val"]["u"]
                    break
        longest = max(longest, time.perf_counter() - turn)
    took = time.perf_counter() - started
    return {"s": took, "longest turn s": longest,
            "peak - before MiB": (rss_kib("VmHWM") - before) / 1024,
            "bytes": len(store.get(key))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--way", choices=("whole", "gathered"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:  # one way, in this fresh process
        run = whole if args.way == "whole" else gathered
        print(json.dumps(run(args.url, args.items, args.store)))
        return 0
    with tempfile.TemporaryDirectory(prefix="graft-gather-end-") as tmp:
        url = f"sqlite:///{tmp}/state.db"
        started = time.perf_counter()
        fill(url, args.items)
        print(f"{args.items:,} node rows written in {time.perf_counter() - started:.1f} s")
        for way in ("whole", "gathered", "whole", "gathered"):
            out = subprocess.run([sys.executable, __file__, "--way", way, "--url", url,
                                  "--store", f"{tmp}/store", "--items", str(args.items)],
                                 capture_output=True, text=True, check=True)
            found = json.loads(out.stdout)
            print(f"{way:<9} {found['s']:8.2f} s  longest turn {found['longest turn s']:6.2f} s"
                  f"  peak RSS +{found['peak - before MiB']:7.1f} MiB  "
                  f"{found['bytes']:,} bytes written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
