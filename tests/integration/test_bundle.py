"""Code bundles: a workflow file the workers never had runs remotely, helper module included;
a submit whose code is gone from where it was imported is refused."""

import importlib
import re
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

from sdk.model.errors import GraftError
from sdk.values.store import open_store
from sdk.wire.submissions import PREFIX as SUBMISSIONS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def write_project(folder, tag: str) -> tuple[str, str]:
    """A workflow module and a helper module it imports, both with names unique to `tag`."""
    helper, main = f"bundlehelp_{tag}", f"bundlewf_{tag}"
    (folder / f"{helper}.py").write_text(textwrap.dedent('''
        from sdk import task

        OFFSET = 1000


        def weight(i: int) -> int:
            return 3 * i + 1


        @task
        def scaled(i: int, k: int) -> int:
            return weight(i) * k + OFFSET
        '''))
    (folder / f"{main}.py").write_text(textwrap.dedent(f'''
        import typing

        from sdk import dynamic, task, workflow
        from {helper} import OFFSET, scaled


        @task
        def count(n: int) -> int:
            return n


        @task
        def add_all(xs: typing.List[int]) -> int:
            return sum(xs) - OFFSET * len(xs)


        @dynamic
        def spread(n: int, k: int) -> typing.List[int]:
            return [scaled(i=i, k=k) for i in range(n)]


        @workflow
        def wf(n: int = 3, k: int = 2) -> (int, typing.List[int]):
            m = count(n=n)
            parts = spread(n=m, k=k)
            return add_all(xs=parts), parts
        '''))
    return main, helper


def expected(n: int, k: int) -> tuple[int, list[int]]:
    parts = [(3 * i + 1) * k + 1000 for i in range(n)]
    return sum(parts) - 1000 * n, parts


def test_unshipped_workflow_runs_from_its_bundle(cluster, tmp_path):
    tag = uuid.uuid4().hex[:10]
    project = tmp_path / "project"
    project.mkdir()
    main, helper = write_project(project, tag)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    wf_file = str(project / f"{main}.py")

    # Neither the workers nor this process can import the modules by name.
    assert main not in sys.modules and helper not in sys.modules
    assert not (cluster.cwd / f"{main}.py").exists()
    assert "PYTHONPATH" not in cluster.env

    local = cluster.run_cli("run", wf_file, "wf", "--n", "5", "--k", "3", cwd=elsewhere)
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == repr(expected(5, 3))

    remote = cluster.run_cli("run", "--remote", "--wait", wf_file, "wf", "--n", "5", "--k=3",
                             cwd=elsewhere)
    assert remote.returncode == 0, remote.stderr
    exec_id, result = remote.stdout.strip().splitlines()
    assert re.fullmatch(r"[0-9a-f]{20}", exec_id)
    assert result == local.stdout.strip()

    # The workers imported both modules from an unpacked bundle in their cache folder.
    unpacked = list((cluster.cache_dir / "bundles").glob(f"*/{main}.py"))
    assert len(unpacked) == 1, unpacked
    assert (unpacked[0].parent / f"{helper}.py").exists()
    # ... and the dynamic's children (helper-module tasks) ran on a worker.
    nodes = {n.id: n for n in cluster.client().get(exec_id).nodes()}
    children = sorted(n.task for nid, n in nodes.items() if nid.startswith("spread/"))
    assert children == ["scaled"] * 5
    assert all(n.state == "SUCCEEDED" for n in nodes.values())


def test_edited_helper_module_gets_a_new_bundle(cluster, tmp_path):
    """Editing a helper module gives a new bundle: every worker runs the new code, none a
    stale copy kept in memory from the previous bundle."""
    tag = uuid.uuid4().hex[:10]
    project = tmp_path / "project"
    project.mkdir()
    main, helper = write_project(project, tag)
    wf_file = str(project / f"{main}.py")
    # Enough nodes that both worker processes of each tier import both modules.
    first = cluster.run_cli("run", "--remote", "--wait", wf_file, "wf", "--n", "8", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[1] == repr(expected(8, 2))

    helper_file = project / f"{helper}.py"
    helper_file.write_text(helper_file.read_text().replace("3 * i + 1", "5 * i + 1"))
    second = cluster.run_cli("run", "--remote", "--wait", wf_file, "wf", "--n", "8",
                             cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(list((cluster.cache_dir / "bundles").glob(f"*/{main}.py"))) == 2
    parts = [(5 * i + 1) * 2 + 1000 for i in range(8)]
    assert second.stdout.strip().splitlines()[1] == repr((sum(parts) - 8000, parts))


def test_sub_workflow_inside_a_dynamic_runs_from_the_bundle(cluster, tmp_path):
    """The tasks of a sub-workflow called from a dynamic carry the dynamic's bundle, so a
    worker of another tier, which never loaded that bundle, can import them."""
    tag = uuid.uuid4().hex[:10]
    project = tmp_path / "project"
    project.mkdir()
    wf_file = project / f"subwfdyn_{tag}.py"
    wf_file.write_text(textwrap.dedent('''
        import typing

        from sdk import Resources, dynamic, task, workflow


        @task(limits=Resources(mem="1Gi"))
        def heavy(x: int) -> int:
            return 7 * x + 1


        @workflow
        def sub(x: int) -> int:
            return heavy(x=x)


        @dynamic
        def each(n: int) -> typing.List[int]:
            return [sub(x=i) for i in range(n)]


        @workflow
        def wf(n: int = 3) -> typing.List[int]:
            return each(n=n)
        '''))
    local = cluster.run_cli("run", str(wf_file), "wf", "--n", "3", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == "[1, 8, 15]"
    remote = cluster.run_cli("run", "--remote", "--wait", str(wf_file), "wf", "--n", "3",
                             cwd=tmp_path)
    assert remote.returncode == 0, remote.stderr
    exec_id, result = remote.stdout.strip().splitlines()
    assert result == local.stdout.strip()
    nodes = {n.id: n for n in cluster.client().get(exec_id).nodes()}
    heavy = {nid: n.queue for nid, n in nodes.items() if n.task == "heavy"}
    assert heavy == {f"each/{s}/heavy": "mem-1Gi" for s in ("sub", "sub-1", "sub-2")}


SCRIPT = '''
import dataclasses
import enum
import os
import tempfile
import typing

from sdk import task, workflow
from sdk.remote.client import Client
from sdk.types import File


@dataclasses.dataclass
class Pt:
    x: float
    y: float


class Tint(enum.Enum):
    WARM = "warm"
    COLD = "cold"


class Note(File):
    format = "txt"


class Result(typing.NamedTuple):
    moved: Pt
    tint: Tint
    note: Note
    norm: float


@task
def move(p: Pt, dx: float) -> Pt:
    return Pt(p.x + dx, p.y)


@task
def classify(p: Pt) -> Tint:
    return Tint.WARM if p.x > p.y else Tint.COLD


@task
def describe(p: Pt, tint: Tint) -> Note:
    path = os.path.join(tempfile.mkdtemp(), "pt.txt")
    with open(path, "w") as fh:
        fh.write(f"{p.x},{p.y},{tint.value}")
    return Note(path)


@task
def norm(p: Pt) -> float:
    return (p.x ** 2 + p.y ** 2) ** 0.5


@workflow
def wf(p: Pt, dx: float = 1.0) -> Result:
    m = move(p=p, dx=dx)
    t = classify(p=m)
    return Result(moved=m, tint=t, note=describe(p=m, tint=t), norm=norm(p=m))


if __name__ == "__main__":
    local = wf(p=Pt(3.0, 4.0), dx=2.0)
    remote = Client().submit(wf, p=Pt(3.0, 4.0), dx=2.0).wait(timeout=90)
    print(repr(local))
    print(repr(remote))
    print(remote == local, type(remote) is Result,
          [type(a) is type(b) for a, b in zip(remote, local)], open(remote.note).read())
'''


def test_script_run_as_main_submits_its_own_types(cluster, tmp_path):
    """`python script.py` that submits a workflow whose types (dataclass, Enum, File subclass,
    NamedTuple output) are defined in the script itself: workers import them under the
    script's module name, and the client gets back the script's own classes."""
    script = tmp_path / "project" / f"mainscript_{uuid.uuid4().hex[:10]}.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], cwd=cluster.cwd, env=cluster.env,
                          capture_output=True, text=True, timeout=110,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    local, remote, checks = proc.stdout.strip().splitlines()
    assert local.startswith("Result(moved=Pt(x=5.0, y=4.0), tint=<Tint.WARM: 'warm'>, "
                            "note=Note('")
    assert local.endswith("/pt.txt'), norm=6.4031242374328485)")
    assert remote == local
    assert checks == "True True [True, True, True, True] 5.0,4.0,warm"


GONE_TASKS = """
from sdk import task, workflow


@task
def plus(x: int) -> int:
    return x + 1


@workflow
def wf(x: int = 1) -> int:
    return plus(x=x)
"""


def _submitted(cluster) -> tuple[set, set]:
    """The executions on the board and what submitting stores (specs, bundles, submissions)."""
    store = open_store(cluster.store_url)
    ids = {e["id"] for e in cluster.client().executions(limit=100_000)}
    return ids, {k for p in ("specs", "bundles", SUBMISSIONS) for k in store.keys(p)}


def test_a_submit_whose_code_folder_is_gone_is_refused(cluster, tmp_path, monkeypatch):
    """The folder a workflow module was imported from is removed before submit: its code
    bundle would be empty and every node would fail on the workers with "No module named".
    The submit is refused, naming the module and the folder, and nothing is submitted."""
    name = f"gonewf_{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / f"{name}.py").write_text(GONE_TASKS)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)
    shutil.rmtree(folder)
    before = _submitted(cluster)
    with pytest.raises(GraftError) as info:
        cluster.client().submit(module.wf, x=1)
    assert str(info.value).startswith(
        f"module {name!r} cannot be sent to the workers: it was imported from {folder}, but "
        f"that folder is gone")
    assert f"No module named {name!r}" in str(info.value)
    after = _submitted(cluster)
    assert after[0] <= before[0] and after[1] <= before[1]


def test_graft_run_remote_refuses_code_gone_from_its_folder_in_one_line(cluster, tmp_path):
    """`graft run --remote` of a workflow whose tasks come from a folder removed after they
    were imported: one line on stderr, exit code 1, no execution."""
    tag = uuid.uuid4().hex[:10]
    lib = tmp_path / "project" / "lib"
    lib.mkdir(parents=True)
    (lib / f"gonehelp_{tag}.py").write_text(GONE_TASKS)
    wf_file = tmp_path / "project" / f"usesgone_{tag}.py"
    wf_file.write_text(textwrap.dedent(f'''
        import os
        import shutil
        import sys

        LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")
        sys.path.insert(0, LIB)
        from gonehelp_{tag} import wf  # noqa: E402

        shutil.rmtree(LIB)  # removed after the import, before the submit
        '''))
    before = _submitted(cluster)
    proc = cluster.run_cli("run", "--remote", str(wf_file), "wf", "--x", "2", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"graft: module 'gonehelp_{tag}' cannot be sent to the "
                                  f"workers: it was imported from {lib}, but that folder is "
                                  f"gone"), proc.stderr
    after = _submitted(cluster)
    assert after[0] <= before[0] and after[1] <= before[1]
