"""Convert the flytesnacks examples kept in cases.json into graft programs.

    python tests/conformance/convert.py --git-dir PATH/TO/flytesnacks/.git   (or a bare mirror)
    python tests/conformance/convert.py --src PATH/TO/flytesnacks            (a checkout)

reads each kept example's original file at the commit named in cases.json ("source.commit";
with --src the checkout must be at that commit) and writes examples/<module>.py beside this
script, and copies the input files listed in cases.json "data" into data/. The same rules
apply to every file; nothing is edited by hand afterwards:

  1. every Python name token `flytekit` becomes `sdk` (imports such as
     `from flytekit.types.file import FlyteFile` and uses such as `flytekit.current_context()`;
     strings and comments are left alone);
  2. a relative import `from .M import ...` inside example folder F becomes
     `from F_M import ...` (the converted examples are flat modules named F_M, imported with
     examples/ on sys.path).

Each converted file starts with a header naming the source and listing every line the rules
changed, with its original text. `--check` compares instead of writing and exits 1 on a
difference.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import casefmt  # noqa: E402


def module_name(source: str) -> str:
    """examples/<folder>/<folder>/<file>.py -> <folder>_<file>"""
    parts = Path(source).parts
    return f"{parts[1]}_{Path(source).stem}"


def convert_text(text: str, folder: str) -> tuple[str, list[int]]:
    """The converted text and the (1-based) numbers of the lines that changed."""
    edits: dict[int, list[tuple[int, int, str]]] = {}
    toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for i, tok in enumerate(toks):
        if tok.type == tokenize.NAME and tok.string == "flytekit":
            edits.setdefault(tok.start[0], []).append((tok.start[1], tok.end[1], "sdk"))
        if tok.type == tokenize.NAME and tok.string == "from" and i + 2 < len(toks):
            dot, name = toks[i + 1], toks[i + 2]
            if dot.type == tokenize.OP and dot.string in (".", "..", "..."):
                if dot.string != "." or name.type != tokenize.NAME:
                    raise ValueError(f"line {tok.start[0]}: unsupported relative import")
                if dot.start[0] != name.start[0]:
                    raise ValueError(f"line {tok.start[0]}: relative import split over lines")
                edits.setdefault(dot.start[0], []).append(
                    (dot.start[1], name.end[1], f"{folder}_{name.string}")
                )
    lines = text.splitlines(keepends=True)
    for row, row_edits in edits.items():
        line = lines[row - 1]
        for start, end, new in sorted(row_edits, reverse=True):
            line = line[:start] + new + line[end:]
        lines[row - 1] = line
    return "".join(lines), sorted(edits)


def header(repo: str, commit: str, source: str, changed: list[int], original: str) -> str:
    orig_lines = original.splitlines()
    out = [
        "# Converted by tests/conformance/convert.py from a Flyte example; do not edit by hand.",
        f"# Source: {repo} at commit {commit}, {source}",
        "# Rules: the name `flytekit` -> `sdk`; `from .M import` -> `from <folder>_M import`.",
        f"# Lines changed ({len(changed)}; numbers are the original file's):",
    ]
    for n in changed:
        out.append(f"#   {n}: {orig_lines[n - 1].strip()}")
    out.append("# " + "-" * 90)
    return "\n".join(out) + "\n"


class Source:
    def __init__(self, git_dir: str | None, src: str | None, commit: str):
        self.git_dir, self.src, self.commit = git_dir, src, commit
        if git_dir is None and src is None:
            raise SystemExit("give --git-dir or --src")

    def read_bytes(self, path: str) -> bytes:
        if self.src is not None:
            return (Path(self.src) / path).read_bytes()
        return subprocess.run(
            ["git", f"--git-dir={self.git_dir}", "show", f"{self.commit}:{path}"],
            check=True,
            capture_output=True,
        ).stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--git-dir", help="flytesnacks git directory (bare or not)")
    p.add_argument("--src", help="a flytesnacks checkout at the commit in cases.json")
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args(argv)

    cases = casefmt.load_cases()
    repo, commit = cases["source"]["repo"], cases["source"]["commit"]
    source = Source(args.git_dir, args.src, commit)
    wanted: dict[Path, bytes] = {}
    for ex in cases["examples"]:
        original = source.read_bytes(ex["source"]).decode("utf-8")
        folder = Path(ex["source"]).parts[1]
        assert ex["module"] == module_name(ex["source"]), ex["module"]
        text, changed = convert_text(original, folder)
        head = header(repo, commit, ex["source"], changed, original)
        wanted[casefmt.EXAMPLES / f"{ex['module']}.py"] = (head + text).encode("utf-8")
    for name, path in cases.get("data", {}).items():
        wanted[casefmt.DATA / name] = source.read_bytes(path)

    stale = [p for p, b in wanted.items() if not p.exists() or p.read_bytes() != b]
    extra = [
        p
        for d in (casefmt.EXAMPLES, casefmt.DATA)
        if d.exists()
        for p in d.iterdir()
        if p.is_file() and p not in wanted
    ]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(HERE)}")
        for p in extra:
            print(f"not produced by convert.py: {p.relative_to(HERE)}")
        return 1 if stale or extra else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(wanted[p])
    for p in extra:
        p.unlink()
    print(f"{len(wanted)} files, {len(stale)} written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
