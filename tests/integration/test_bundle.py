"""Code bundles: a workflow file the workers never had runs remotely, helper module included."""

import re
import sys
import textwrap
import uuid

import pytest

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
