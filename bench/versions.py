"""Two graft checkouts in one run: each one's bench/cluster.py (chain, fan-out, map) and
bench/scale.py (a `@dynamic` fan-out of N), on its own code, taking turns.

    git worktree add /tmp/graft-old <commit>         # the other checkout, e.g. before a change
    python bench/versions.py /tmp/graft-old          # 3 rounds, scale at N = 100,000 (~40 min)
    python bench/versions.py /tmp/graft-old --rounds 5 --scale 10000 --cluster-args=--quick

A round runs, for each checkout in turn (who goes first alternates between rounds),
`python CHECKOUT/bench/cluster.py --repeats 1 --baselines celery` (`--cluster-args` adds to
that, e.g. `--cluster-args="--only map --repeats 3"`; a round counts the median of the
repeats) and then
`python CHECKOUT/bench/scale.py --sizes N --no-celery`, each with `PYTHONPATH=CHECKOUT`, so that
the script, its stacks and the workflows it submits all run that checkout's code. Every
invocation starts its stacks afresh on its own throwaway Redis and SQLite state.

The report gives, per shape, the median graft time of each checkout over the rounds and their
ratio (this / other); for the cluster shapes also each checkout's median graft / Celery ratio,
Celery running in the same session as graft, which cancels out much of the shared machine's
load; for the scale run, wall time, the scheduler's CPU seconds and its peak RSS. Read the
ratios, not the absolute times. `--scale 0` leaves scale.py out, `--no-cluster` cluster.py.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
RUN = re.compile(r"^\s+run \d+/\d+ (?P<shape>.+?)\s+(?P<system>graft|celery|dask)\s+"
                 r"(?P<ms>\d+) ms$")
SCALE = re.compile(r"^\s+graft run \d+: (?P<wall>[\d.]+) s; sched CPU (?P<cpu>[\d.]+) s, "
                   r"RSS \S+ -> (?P<rss>\S+) MiB")


class BenchFailed(Exception):
    pass


def run(checkout: Path, script: str, args: list[str], timeout_s: float) -> str:
    """One benchmark script of `checkout`, on its code; its output."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, str(checkout / "bench" / script), *args]
    print(f"  {checkout}: {script} {' '.join(args)}", flush=True)
    done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=timeout_s)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise BenchFailed(f"{script} of {checkout} exited with {done.returncode}:\n{tail}")
    return done.stdout


def cluster_times(out: str) -> dict[tuple[str, str], float]:
    """(shape, system) -> ms, from cluster.py's per-run lines (the median of its repeats)."""
    found: dict[tuple[str, str], list[float]] = {}
    for line in out.splitlines():
        m = RUN.match(line)
        if m:
            found.setdefault((m["shape"], m["system"]), []).append(float(m["ms"]))
    if not found:
        raise BenchFailed(f"no run lines in cluster.py's output:\n{out[-2000:]}")
    return {key: statistics.median(ms) for key, ms in found.items()}


def scale_figures(out: str) -> dict[str, float]:
    """Wall s, scheduler CPU s and peak RSS MiB of scale.py's one graft run."""
    for line in out.splitlines():
        m = SCALE.match(line)
        if m:
            return {"wall s": float(m["wall"]), "sched CPU s": float(m["cpu"]),
                    "peak RSS MiB": float(m["rss"].replace(",", ""))}
    raise BenchFailed(f"no graft run line in scale.py's output:\n{out[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (its root folder)")
    parser.add_argument("--this", type=Path, default=HERE, help="default: this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=100_000,
                        help="scale.py's N (0: leave scale.py out)")
    parser.add_argument("--no-cluster", action="store_true", help="leave cluster.py out")
    parser.add_argument("--cluster-args", default="",
                        help="more arguments for cluster.py, e.g. --cluster-args=--quick")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per script")
    args = parser.parse_args()
    checkouts = {"this": args.this.resolve(), "other": args.other.resolve()}
    for path in checkouts.values():
        if not (path / "bench" / "cluster.py").is_file():
            parser.error(f"{path} is not a graft checkout (no bench/cluster.py)")
    cluster: dict[str, list[dict[tuple[str, str], float]]] = {k: [] for k in checkouts}
    scale: dict[str, list[dict[str, float]]] = {k: [] for k in checkouts}
    started = time.monotonic()
    try:
        for r in range(args.rounds):
            order = list(checkouts) if r % 2 == 0 else list(reversed(checkouts))
            print(f"round {r + 1}/{args.rounds}: {' then '.join(order)}", flush=True)
            for name in order:
                path = checkouts[name]
                if not args.no_cluster:
                    out = run(path, "cluster.py", ["--repeats", "1", "--baselines", "celery",
                                                   *args.cluster_args.split()], args.timeout)
                    cluster[name].append(cluster_times(out))
                if args.scale:
                    out = run(path, "scale.py", ["--sizes", str(args.scale), "--no-celery"],
                              args.timeout)
                    scale[name].append(scale_figures(out))
    except (BenchFailed, subprocess.TimeoutExpired) as exc:
        print(f"versions: {exc}", file=sys.stderr)
        return 1
    report(checkouts, cluster, scale, args, time.monotonic() - started)
    return 0


def report(checkouts: dict[str, Path], cluster: dict[str, list[dict[tuple[str, str], float]]],
           scale: dict[str, list[dict[str, float]]], args: argparse.Namespace,
           elapsed_s: float) -> None:
    print()
    print(f"this: {checkouts['this']}\nother: {checkouts['other']}\n{args.rounds} round(s), "
          f"{os.cpu_count()} CPUs, {elapsed_s / 60:.0f} min; medians over the rounds")
    if cluster["this"]:
        shapes = sorted({shape for runs in cluster["this"] for shape, _ in runs})
        print(f"\n{'shape':<26} {'this ms':>9} {'other ms':>9} {'this/other':>11} "
              f"{'this/celery':>12} {'other/celery':>13}")
        for shape in shapes:
            med = {k: statistics.median(r[(shape, "graft")] for r in cluster[k])
                   for k in checkouts}
            vs = {k: statistics.median(r[(shape, "graft")] / r[(shape, "celery")]
                                       for r in cluster[k]) for k in checkouts}
            print(f"{shape:<26} {med['this']:>9.0f} {med['other']:>9.0f} "
                  f"{med['this'] / med['other']:>10.2f}x {vs['this']:>11.2f}x "
                  f"{vs['other']:>12.2f}x")
    if scale["this"]:
        print(f"\nscale.py, N = {args.scale:,}:")
        print(f"{'figure':<14} {'this':>9} {'other':>9} {'this/other':>11}")
        for figure in scale["this"][0]:
            med = {k: statistics.median(r[figure] for r in scale[k]) for k in checkouts}
            print(f"{figure:<14} {med['this']:>9.1f} {med['other']:>9.1f} "
                  f"{med['this'] / med['other']:>10.2f}x")
    print("\nevery run, in order:")
    for k in checkouts:
        for r, runs in enumerate(cluster[k], 1):
            line = ", ".join(f"{shape} {ms:.0f}" for (shape, system), ms in sorted(runs.items())
                             if system == "graft")
            print(f"  {k} round {r}: {line}")
        for r, figures in enumerate(scale[k], 1):
            print(f"  {k} round {r} scale: " + ", ".join(f"{f} {v:.1f}"
                                                        for f, v in figures.items()))


if __name__ == "__main__":
    sys.exit(main())
