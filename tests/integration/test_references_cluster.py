"""Reference entities on a real cluster with GRAFT_SECRET set: `graft register` records a
file's tasks, workflows and launch plans from a folder of its own; a client module holding
only reference stubs (and a task of its own) submits a workflow calling them, and the
workers run the registered code, which they only have from its code bundle, with a launch
plan's default and fixed inputs applied. A version never registered is a clear error at
submit, and a registry entry written into the store without a valid signature is refused
there: its code never runs."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import uuid

import pytest

from sdk import ExecutionFailed
from sdk.remote.registry import Registry, RegistryError, registry_key, store_key
from sdk.values.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SECRET = "a-long-shared-secret-for-the-registry"

REGISTERED = '''
from sdk import LaunchPlan, task, workflow

@task
def add(x: int, y: int = 10) -> int:
    return x + y

@task
def evil(x: int) -> int:
    open({marker!r}, "w").write("ran")
    return -1

@workflow
def pipeline(a: int, b: int = 2) -> int:
    return add(x=a, y=b)

scaled = LaunchPlan.get_or_create(pipeline, name="scaled_{tag}", default_inputs={{"b": 100}})
fixed = LaunchPlan.get_or_create(pipeline, name="fixed_{tag}", fixed_inputs={{"b": 1000}})
'''

CLIENT = '''
import typing

from sdk import (dynamic, reference_launch_plan, reference_task, reference_workflow, task,
                 workflow)

@reference_task(project="flytesnacks", domain="development", name="{module}.add",
                version="v1")
def add(x: int) -> int:
    ...

@reference_launch_plan(project="flytesnacks", domain="development", name="scaled_{tag}",
                       version="v1")
def scaled(a: int) -> int:
    ...

@reference_launch_plan(project="flytesnacks", domain="development", name="fixed_{tag}",
                       version="v1")
def fixed(a: int) -> int:
    ...

@reference_workflow(project="flytesnacks", domain="development", name="{module}.pipeline",
                    version="v1")
def pipeline(a: int, b: int) -> int:
    ...

@task
def triple(n: int) -> int:
    return 3 * n

@workflow
def main(x: int) -> typing.List[int]:
    return [triple(n=add(x=x)), scaled(a=x), fixed(a=x), pipeline(a=x, b=5)]

@dynamic
def fan(n: int) -> typing.List[int]:
    return [add(x=i) for i in range(n)]

@reference_task(project="flytesnacks", domain="development", name="{module}.add",
                version="{version}")
def add_other(x: int) -> int:
    ...

@workflow
def other(x: int) -> int:
    return add_other(x=x)
'''


def client_module(folder, module: str, tag: str, version: str):
    """Import a client module of reference stubs from `folder`, its other stub at
    `version`."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"refclient_{tag}_{version}"
    (folder / f"{name}.py").write_text(textwrap.dedent(CLIENT).format(
        module=module, tag=tag, version=version))
    sys.path.insert(0, str(folder))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


def test_registered_code_runs_for_references_and_forged_entries_are_refused(
        make_cluster, tmp_path):
    cluster = make_cluster(env={"GRAFT_SECRET": SECRET})
    tag = uuid.uuid4().hex[:8]
    module = f"regflows_{tag}"
    marker = tmp_path / "evil-ran"
    folder = tmp_path / "registered"
    folder.mkdir()
    (folder / f"{module}.py").write_text(textwrap.dedent(REGISTERED).format(
        marker=str(marker), tag=tag))
    done = cluster.run_cli("register", f"{module}.py", "--version", "v1", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{module}.add" in done.stdout and f"fixed_{tag}" in done.stdout
    assert module not in sys.modules  # the client has the stubs only; workers the bundle

    client = cluster.client()
    refs = client_module(tmp_path / "client", module, tag, "v1")
    execution = client.submit(refs.main, x=1)
    assert execution.wait(timeout=120) == [33, 101, 1001, 6]
    nodes = {n.id: n for n in execution.nodes()}
    for ran in ("add", "triple"):  # registered code and the client's own, on the workers
        assert nodes[ran].state == "SUCCEEDED" and nodes[ran].history[-1]["worker"], nodes[ran]
    assert {nodes[n].kind for n in ("scaled", "fixed", "pipeline")} == {"workflow"}
    assert execution.node_inputs("scaled/add") == {"x": 1, "y": 100}
    assert client.submit(refs.scaled, a=2).wait(timeout=120) == 102  # a plan submitted alone

    # A dynamic's body is built on a worker, after the client resolved references.
    with pytest.raises(ExecutionFailed) as failed:
        client.submit(refs.fan, n=1).wait(timeout=120)
    assert "was called inside a @dynamic" in str(failed.value), failed.value

    # A version nobody registered: a clear error at submit, nothing queued.
    missing = client_module(tmp_path / "client", module, tag, "v2")
    with pytest.raises(RegistryError, match=rf"node 'add_other': reference task "
                                            rf"'{module}.add' version 'v2' is not registered "
                                            rf".*registered versions of it: v1"):
        client.submit(missing.other, x=1)

    # Forged entries, by whoever can write the store but lacks the secret: a new version
    # pointing at other registered code, unsigned; the genuine one redirected there.
    store = open_store(cluster.store_url)
    registry = Registry(store, registry_key(SECRET.encode()))
    evil = registry.get("task", f"{module}.evil", "v1")
    genuine = json.loads(store.get(store_key("task", f"{module}.add", "v1")))
    forged = {**genuine, "version": "v3", "spec": evil.spec}
    forged.pop("sig")
    store.put(store_key("task", f"{module}.add", "v3"), json.dumps(forged).encode())
    unsigned = client_module(tmp_path / "client", module, tag, "v3")
    with pytest.raises(RegistryError, match=r"version 'v3' \(registry/.*\) is refused: it is "
                                            r"not signed, and GRAFT_SECRET is set"):
        client.submit(unsigned.other, x=1)
    store.put(store_key("task", f"{module}.add", "v1"),
              json.dumps({**genuine, "spec": evil.spec}).encode())
    with pytest.raises(RegistryError, match=r"version 'v1' \(registry/.*\) is refused: its "
                                            r"signature is wrong"):
        client.submit(refs.main, x=1)
    listed = cluster.run_cli("register", "--list")
    assert "refused: its signature is wrong" in listed.stdout, listed.stdout + listed.stderr
    assert not marker.exists(), "code a forged registry entry named ran"
