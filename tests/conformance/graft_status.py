"""For information: how far graft gets with each converted example, in-process.

    python tests/conformance/graft_status.py [--graft-root PATH] [--only MODULE ...]

runs, with graft's Python (graft importable from --graft-root, default this checkout), each
converted example's cases (examples/<module>.py, cases.json) the way record_flytekit.py runs
the originals: one process per example, a new empty working directory and HOME. It writes
graft_status.json and rewrites the status table in README.md between its markers.

Per case: "same" (the encoded value equals flytekit's, leaving out the paths
flytekit_outputs.json marks unstable, or the exception is of flytekit's exception's type, a
subclass included), "differs", "error" (graft raised where
flytekit returned), or "not run" (the module did not import). Per example, "first error" is
the import error, else the first case that raised under graft but not under flytekit, else
the first case that differs. This is a progress report, not the conformance test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import casefmt  # noqa: E402

STATUS = HERE / "graft_status.json"
README = HERE / "README.md"
BEGIN, END = "<!-- graft-status:begin -->", "<!-- graft-status:end -->"


def missing_sdk_names(path: Path) -> list[str]:
    """Every `sdk...` module or name the file imports that graft does not have."""
    import ast
    import importlib

    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            wanted = [(a.name, None) for a in node.names if a.name.split(".")[0] == "sdk"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sdk":
            wanted = [(node.module, a.name) for a in node.names]
        else:
            continue
        for mod, name in wanted:
            try:
                m = importlib.import_module(mod)
            except ImportError:
                missing.append(mod)
                continue
            if name is not None and not hasattr(m, name):
                try:
                    importlib.import_module(f"{mod}.{name}")
                except ImportError:
                    missing.append(f"{mod}.{name}")
    return sorted(set(missing))


def worker(module_name: str, out_path: str) -> None:
    sys.path.insert(0, str(casefmt.EXAMPLES))
    ex = next(e for e in casefmt.load_cases()["examples"] if e["module"] == module_name)
    result: dict = {"cases": {}}
    result["missing_sdk_names"] = missing_sdk_names(casefmt.EXAMPLES / f"{module_name}.py")
    module, result["import"] = casefmt.import_example(module_name)
    if module is not None:
        import harness  # the conformance test's run_case, which notes the exception's bases

        for case in ex["cases"]:
            result["cases"][case["name"]] = harness.run_case(module, case)
    Path(out_path).write_text(json.dumps(result, default=repr))


def run_example(graft_root: Path, module: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="conf-graft-") as tmp:
        work, home = Path(tmp, "work"), Path(tmp, "home")
        work.mkdir()
        home.mkdir()
        out_path = Path(tmp, "result.json")
        env = dict(os.environ, HOME=str(home), PYTHONPATH=str(graft_root), PYTHONHASHSEED="0")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", module, str(out_path)]
        try:
            proc = subprocess.run(
                cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            err = {"type": "Timeout", "message": f"no result after {timeout:.0f}s", "chain": []}
            return {"import": {"ok": False, "error": err}, "cases": {}}
        if not out_path.exists():
            err = {"type": "WorkerDied", "message": proc.stderr[-2000:], "chain": []}
            return {"import": {"ok": False, "error": err}, "cases": {}}
        return json.loads(out_path.read_text())


def short(err: dict) -> str:
    """The exception's type and the first line of its message (two when the first ends with
    ":"), without file paths in parentheses."""
    lines = [x.strip() for x in (err.get("message") or "").strip().splitlines() if x.strip()]
    msg = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines or [""])[0]
    msg = re.sub(r"\s*\(/[^)]*\)", "", re.sub(r"\s+", " ", msg))
    return f"{err['type']}: {msg[:150]}"


def last_line(err: dict) -> str:
    """The exception's type and the last line of its message (for flytekit, the user's)."""
    lines = [x.strip() for x in (err.get("message") or "").splitlines() if x.strip()]
    return f"{err['type']}({(lines or [''])[-1][:60]!r})"


def compare(flyte: dict, graft: dict) -> str:
    if flyte["ok"] and not graft["ok"]:
        return "error"
    if not flyte["ok"]:
        if graft["ok"]:
            return "differs"
        caught = {graft["error"]["type"], *graft["error"].get("bases", [])}
        return "same" if flyte["error"]["type"] in caught else "differs"
    unstable = casefmt.unstable(flyte)
    a = casefmt.without_paths({"ok": True, "value": flyte["value"]}, unstable)
    b = casefmt.without_paths({"ok": True, "value": graft["value"]}, unstable)
    return "same" if a == b else "differs"


def _diffs(a, b, path: str = "") -> list[str]:
    """Readable differences between two encoded values; a dict's differing keys are named
    and its common keys still compared."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        only_f, only_g = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        if only_f or only_g:
            out.append(f"at {path or '/'}: keys only in flytekit {only_f}, only in graft {only_g}")
        for k in a:
            if k in b:
                out += _diffs(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _diffs(x, y, f"{path}/{i}")
        return out
    if a == b and type(a) is type(b):
        return []
    fa, gb = json.dumps(a), json.dumps(b)
    return [f"at {path or '/'}: flytekit {fa[:50]} / graft {gb[:50]}"]


def difference(flyte: dict, graft: dict) -> str:
    """Where a graft result differs from flytekit's, in a line or two."""
    if not flyte["ok"] or not graft["ok"]:
        f = last_line(flyte["error"]) if not flyte["ok"] else "returned"
        g = last_line(graft["error"]) if not graft["ok"] else "returned"
        return f"flytekit {f} / graft {g}"
    unstable = casefmt.unstable(flyte)
    a = casefmt.without_paths(flyte["value"], [p.removeprefix("/value") for p in unstable])
    b = casefmt.without_paths(graft["value"], [p.removeprefix("/value") for p in unstable])
    return "; ".join(_diffs(a, b)[:2])


def summarize(module: str, flyte: dict, graft: dict) -> dict:
    out: dict = {
        "import": graft["import"]["ok"],
        "missing_sdk_names": graft.get("missing_sdk_names", []),
        "cases": {},
        "first_error": None,
    }
    if not graft["import"]["ok"]:
        out["first_error"] = "import: " + short(graft["import"]["error"])
    differs = None
    for name, f in flyte.get("cases", {}).items():
        g = graft.get("cases", {}).get(name)
        if g is None:
            out["cases"][name] = {"status": "not run"}
            continue
        status = compare(f, g)
        entry: dict = {"status": status}
        if not g["ok"]:
            entry["error"] = short(g["error"])
        out["cases"][name] = entry
        if status == "error" and out["first_error"] is None:
            out["first_error"] = f"{name}: {entry['error']}"
        if status == "differs":
            entry["difference"] = difference(f, g)
            if differs is None:
                differs = f"{name}: differs: {entry['difference']}"
    if out["first_error"] is None:
        out["first_error"] = differs
    return out


def table(status: dict) -> str:
    rows = [
        "| example | cases same / run | first error |",
        "| --- | --- | --- |",
    ]
    for module, s in status["examples"].items():
        n = len(s["cases"])
        same = sum(1 for c in s["cases"].values() if c["status"] == "same")
        err = (s["first_error"] or "none").replace("|", "\\|")
        rows.append(f"| `{module}` | {same} / {n} | {err} |")
    return "\n".join(rows)


def update_readme(status: dict) -> None:
    if not README.exists():
        return
    text = README.read_text()
    if BEGIN not in text or END not in text:
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = f"\n(graft at `{status['graft']}`; `python tests/conformance/graft_status.py`)\n\n"
    README.write_text(head + BEGIN + body + table(status) + "\n" + END + tail)


def graft_commit(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--graft-root", default=str(HERE.parent.parent))
    p.add_argument("--only", nargs="*")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    root = Path(args.graft_root).resolve()
    flyte = casefmt.load_outputs()["examples"]
    old = json.loads(STATUS.read_text()) if args.only and STATUS.exists() else {"examples": {}}
    examples = dict(old["examples"])
    for ex in casefmt.load_cases()["examples"]:
        m = ex["module"]
        if args.only and m not in args.only:
            continue
        print(f"running {m} under graft ...", file=sys.stderr, flush=True)
        examples[m] = summarize(m, flyte[m], run_example(root, m, args.timeout))
    status = {"graft": graft_commit(root), "examples": dict(sorted(examples.items()))}
    STATUS.write_text(json.dumps(status, indent=1) + "\n")
    update_readme(status)
    print(table(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
