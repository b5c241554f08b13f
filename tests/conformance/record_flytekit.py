"""Record flytekit's results for the cases in cases.json, into flytekit_outputs.json.

Runs only where flytekit is installed (never in graft's CI), against the ORIGINAL flytesnacks
files, not the converted ones:

    /path/to/flyte-venv/bin/python tests/conformance/record_flytekit.py --src PATH/TO/flytesnacks
    ... --only basics_workflow data_types_and_io_file     (re-record some examples, keep the rest)

PATH/TO/flytesnacks is a checkout (or an extracted tree) of the commit named in cases.json. Each
example runs in its own Python process, in a new empty working directory and with a new empty
HOME (so flytekit's local cache starts empty), with the example's folder on sys.path and the
module imported under its original name (e.g. `basics.workflow`). Its cases run in the order
listed, in that one process, as its __main__ block would run them. Every example is recorded
twice (--runs): the parts of a result that differ between the two runs (temporary file names,
clock readings) are listed in the case's "unstable" and should not be compared.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import casefmt  # noqa: E402

PACKAGES = ["flytekit", "pandas", "numpy", "pyarrow", "pydantic", "scikit-learn", "xgboost-cpu"]


def worker(module_name: str, out_path: str) -> None:
    cases = casefmt.load_cases()
    ex = next(e for e in cases["examples"] if e["module"] == module_name)
    result: dict = {"cases": {}}
    module, result["import"] = casefmt.import_example(ex["original_module"])
    if module is not None:
        for case in ex["cases"]:
            result["cases"][case["name"]] = casefmt.run_case(module, case)
    Path(out_path).write_text(json.dumps(result))


def run_example(src: Path, ex: dict, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="conf-rec-") as tmp:
        work, home = Path(tmp, "work"), Path(tmp, "home")
        work.mkdir()
        home.mkdir()
        out_path = Path(tmp, "result.json")
        env = dict(os.environ)
        env.update(
            HOME=str(home),
            PYTHONPATH=str(src / ex["original_sys_path"]),
            PYTHONHASHSEED="0",
        )
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            ex["module"],
            str(out_path),
        ]
        try:
            proc = subprocess.run(
                cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return {"import": {"ok": False, "error": {"type": "Timeout", "message": str(timeout)}}}
        if not out_path.exists():
            tail = proc.stderr[-2000:]
            return {
                "import": {"ok": False, "error": {"type": "WorkerDied", "message": tail}},
                "cases": {},
            }
        return json.loads(out_path.read_text())


def merge_runs(runs: list[dict]) -> dict:
    """The first run, with each case's "unstable" paths: where any later run differs."""
    first = runs[0]
    for name, rec in first.get("cases", {}).items():
        unstable: set[str] = set()
        stdout_stable = True
        for other in runs[1:]:
            o = other.get("cases", {}).get(name)
            if o is None:
                unstable.add("/")
                continue
            a = {k: v for k, v in rec.items() if k != "stdout"}
            b = {k: v for k, v in o.items() if k != "stdout"}
            unstable.update(casefmt.diff_paths(a, b))
            stdout_stable = stdout_stable and rec.get("stdout") == o.get("stdout")
        rec["unstable"] = sorted(unstable)
        rec["stdout_stable"] = stdout_stable
    return first


def meta(commit: str) -> dict:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "source": {"repo": "flyteorg/flytesnacks", "commit": commit},
        "python": platform.python_version(),
        "packages": versions,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--src", help="flytesnacks tree at the commit in cases.json")
    p.add_argument("--only", nargs="*", help="modules to (re-)record; the others are kept")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    if not args.src:
        p.error("--src is required")
    src = Path(args.src).resolve()
    cases = casefmt.load_cases()
    old = casefmt.load_outputs() if args.only and casefmt.OUTPUTS.exists() else {"examples": {}}
    examples = dict(old.get("examples", {}))
    for ex in cases["examples"]:
        if args.only and ex["module"] not in args.only:
            continue
        print(f"recording {ex['module']} ...", file=sys.stderr, flush=True)
        runs = [run_example(src, ex, args.timeout) for _ in range(args.runs)]
        examples[ex["module"]] = merge_runs(runs)
    known = {ex["module"] for ex in cases["examples"]}
    doc = {
        "format": 1,
        "meta": meta(cases["source"]["commit"]),
        "examples": {k: examples[k] for k in sorted(examples) if k in known},
    }
    with open(casefmt.OUTPUTS, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
