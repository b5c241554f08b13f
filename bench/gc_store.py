"""gc's time and peak memory on a store of 100,000 objects, against listing the same store.

    python bench/gc_store.py                    # 100,000 objects, 3 repeats: about 2 minutes
    python bench/gc_store.py --objects 20000    # a quicker run

It builds, in a temporary folder, a SQLite state and a folder store like a cluster's after
some use: executions of 4 nodes, each node's output a stored literal (`values/`) naming a
file (`blobs/`), plus 2 log objects per execution, 10 objects an execution, a shared spec and
bundle, and cache entries naming 1 output in 20. Half the executions ended 40 days ago, every
object was written 2 days ago. Each measurement runs in a process of its own (its peak RSS is
its own), on a fresh copy of the store and database:

- baseline: `os.walk` and `stat` of every object (what any sweep must at least do);
- dry run: `collect(..., dry_run=True)`: list, count the prunable rows, mark;
- gc: `collect(...)`: list, prune half the executions, mark, delete what only they named.

It prints the medians, each as seconds per 10,000 objects and as a ratio to the baseline of
the same run, each process's peak RSS, and how much it grew during the measurement (over what
the interpreter and the imports took).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OBJECTS_PER_EXECUTION = 10
NODES = 4
DAY_S = 86400


def _write(store: Path, key: str, data: bytes, mtime: float) -> None:
    path = store / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def build(folder: Path, objects: int) -> None:
    """The state database and the store (see the module's docstring)."""
    from sqlalchemy import update

    from scheduler.db import ExecutionRow
    from scheduler.state import NODE_FIELDS, ExecutionRecord
    from scheduler.state_sql import SqlState
    from sdk.values.store import sha256

    store = folder / "store"
    written = time.time() - 2 * DAY_S
    bundle = b"bundle"
    _write(store, f"bundles/{sha256(bundle)}", bundle, written)
    spec = json.dumps({"task": {"bundle": sha256(bundle)}}).encode()
    spec_key = f"specs/{sha256(spec)}"
    _write(store, spec_key, spec, written)
    state = SqlState(f"sqlite:///{folder / 'state.db'}")
    count = max(2, objects // OBJECTS_PER_EXECUTION)
    with state.transaction() as tx:
        for i in range(count):
            eid = f"ex{i:07d}"
            tx.add_execution(ExecutionRecord(id=eid, workflow="wf", status="SUCCEEDED",
                                             spec_key=spec_key, inputs={}))
            rows = []
            for n in range(NODES):
                blob = f"output {i} {n}".encode() * 20
                blob_key = f"blobs/{sha256(blob)}"
                _write(store, blob_key, blob, written)
                value = json.dumps({"file": {"key": blob_key, "name": "f"}}).encode()
                value_key = f"values/{sha256(value)}"
                _write(store, value_key, value, written)
                row = {k: None for k in NODE_FIELDS}
                row.update(execution_id=eid, node_id=f"n{n}", task="t", kind="task",
                           state="SUCCEEDED", attempt=1, cached=False,
                           outputs={"o0": {"val": {"u": value_key}}})
                rows.append(row)
                if (i * NODES + n) % 20 == 0:
                    entry = json.dumps({"outputs": {"o0": {"val": {"u": value_key}}}})
                    _write(store, f"cache/{sha256(value)}.json", entry.encode(), written)
            tx.insert_nodes(rows)
            for a in (1, 2):
                _write(store, f"logs/{eid}/n{a}/1.json", b'{"records": []}', written)
    ended = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=40)
    with state.engine.begin() as conn:
        conn.execute(update(ExecutionRow).where(ExecutionRow.id < f"ex{count // 2:07d}")
                     .values(updated_at=ended))
    state.engine.dispose()


def child(mode: str, folder: Path) -> None:
    """Run one measurement in this process; print its JSON."""
    store_root = folder / "store"
    if mode != "baseline":  # imported before the clock starts: a process's start is not gc's
        from scheduler.retention.collect import collect
        from scheduler.state_sql import SqlState
        from sdk.values.store import FsspecStore
    at_start = _peak_rss_kib()
    started = time.perf_counter()
    result: dict[str, float] = {}
    if mode == "baseline":
        n = 0
        for parent, _, files in os.walk(store_root):
            for name in files:
                os.stat(os.path.join(parent, name))
                n += 1
        result["objects"] = n
    else:
        state = SqlState(f"sqlite:///{folder / 'state.db'}")
        report = collect(state.engine, FsspecStore(str(store_root)), older_than_s=30 * DAY_S,
                         dry_run=mode == "dry-run")
        result.update(objects=report.objects, freed=report.objects_freed,
                      rows=report.rows_pruned)
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mib"] = _peak_rss_kib() / 1024
    result["grew_mib"] = (_peak_rss_kib() - at_start) / 1024
    print(json.dumps(result))


def _peak_rss_kib() -> float:
    """This process's peak resident memory: VmHWM, which, unlike `ru_maxrss`, starts again
    at `exec` (the parent's peak does not count)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(mode: str, template: Path, work: Path) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work, copy_function=shutil.copy2)  # copy2 keeps write times
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(work)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory(prefix="graft-gc-bench-") as tmp:
        template, work = Path(tmp) / "template", Path(tmp) / "work"
        started = time.perf_counter()
        build(template, args.objects)
        print(f"built {args.objects:,} objects in {time.perf_counter() - started:.0f} s")
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "dry-run": [], "gc": []}
        for _ in range(args.repeats):  # interleaved, so that load shifts hit all alike
            for mode in runs:
                runs[mode].append(measure(mode, template, work))
        base = statistics.median(r["seconds"] for r in runs["baseline"])
        objects = runs["baseline"][0]["objects"]
        print(f"\n{'':10} {'median s':>9} {'s/10k obj':>10} {'x baseline':>11} "
              f"{'peak RSS MiB':>13} {'+ MiB':>6}  freed / rows pruned")
        for mode, results in runs.items():
            seconds = statistics.median(r["seconds"] for r in results)
            rss = statistics.median(r["peak_rss_mib"] for r in results)
            grew = statistics.median(r["grew_mib"] for r in results)
            extra = (f"{int(results[0].get('freed', 0)):,} / {int(results[0].get('rows', 0)):,}"
                     if mode != "baseline" else "")
            print(f"{mode:10} {seconds:9.2f} {seconds / objects * 10_000:10.3f} "
                  f"{seconds / base:11.1f} {rss:13.0f} {grew:6.0f}  {extra}")


if __name__ == "__main__":
    main()
