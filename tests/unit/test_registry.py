"""The registry (`graft register FILE`): what a file records by kind, name and version, how
re-registering behaves (same code: a no-op; other code: refused, nothing written), entries
signed with a key derived from GRAFT_SECRET (unsigned, altered, moved or otherwise signed
ones refused), and resolving reference entities against it when a client submits (registered
code and defaults in place, a missing version or an interface that does not fit the stub a
clear error)."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import typing
import uuid

import pytest
from click.testing import CliRunner

from sdk import map_task, reference_launch_plan, reference_task, reference_workflow, workflow
from sdk.cli import cli
from sdk.model.config import Settings
from sdk.model.errors import ConfigError
from sdk.model.reference import REFERENCE_MODULE
from sdk.remote.references import resolve_references
from sdk.remote.register import REGISTERED, REPLACED, UNCHANGED, register_module
from sdk.remote.registry import Registry, RegistryError, registry_key, store_key
from sdk.remote.specs import upload_spec
from sdk.runtime.loading import load_module_from_file
from sdk.values.store import open_store

SECRET = b"a-secret-for-the-registry"

SOURCE = '''
from sdk import LaunchPlan, dynamic, reference_task, task, workflow

@task(retries=2)
def add(x: int, y: int = 10) -> int:
    return x + y

@dynamic
def fan(n: int) -> list:
    return [add(x=i) for i in range(n)]

@workflow
def pipeline(a: int, b: int = 2) -> int:
    return add(x=a, y=b)

scaled = LaunchPlan.get_or_create(pipeline, name="scaled_{tag}", default_inputs={{"b": 100}})
LaunchPlan.get_or_create(pipeline, name="fixed_{tag}", fixed_inputs={{"b": 1000}})

@reference_task(project="p", domain="d", name="elsewhere.t", version="1")
def not_registered(a: int) -> int: ...
'''


def write_module(folder, tag: str, body: str = SOURCE, **extra: str):
    folder.mkdir(parents=True, exist_ok=True)
    name = f"regmod_{tag}"
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body).format(tag=tag, **extra))
    return name, path


def load_fresh(path) -> typing.Any:
    """The module of `path` imported anew (a module of that name may be imported already,
    from another folder: `graft register` runs in a process of its own)."""
    sys.modules.pop(path.stem, None)
    importlib.invalidate_caches()
    return load_module_from_file(str(path))


def settings(secret: bytes | None = None) -> Settings:
    return Settings(store_url=Settings.from_env().store_url, secret=secret)


def registry(secret: bytes | None = None) -> Registry:
    return Registry.open(settings(secret))


@pytest.fixture
def registered(tmp_path):
    """A module registered under version v1 (signed with SECRET): its name and tag."""
    tag = uuid.uuid4().hex[:8]
    name, path = write_module(tmp_path / "reg", tag)
    done = register_module(load_module_from_file(str(path)), registry(SECRET), "v1")
    return name, tag, done


def test_a_file_registers_its_tasks_workflows_and_launch_plans(registered):
    name, tag, done = registered
    assert sorted((e.kind, e.name, status) for e, status in done) == sorted([
        ("task", f"{name}.add", REGISTERED), ("task", f"{name}.fan", REGISTERED),
        ("workflow", f"{name}.pipeline", REGISTERED),
        ("launch_plan", f"{name}.pipeline", REGISTERED),  # the default launch plan
        ("launch_plan", f"scaled_{tag}", REGISTERED),
        ("launch_plan", f"fixed_{tag}", REGISTERED)])  # kept in no variable
    entries = {(e.kind, e.name): e for e, _ in done}
    assert entries["task", f"{name}.add"].defaults == {"y": {"val": {"v": 10}}}
    assert entries["launch_plan", f"scaled_{tag}"].defaults == {"b": {"val": {"v": 100}}}
    assert entries["launch_plan", f"fixed_{tag}"].fixed == ("b",)
    assert entries["launch_plan", f"fixed_{tag}"].defaults == {}
    assert all(e.version == "v1" and e.spec.startswith("specs/") for e, _ in done)
    assert {e.name for e in registry(SECRET).entries()} >= {f"{name}.add", f"scaled_{tag}"}


def test_the_same_code_again_is_a_no_op_and_other_code_is_refused(registered, tmp_path):
    name, tag, done = registered
    module = load_module_from_file(str(tmp_path / "reg" / f"{name}.py"))
    again = register_module(module, registry(SECRET), "v1")
    assert {status for _, status in again} == {UNCHANGED}
    assert [e.registered_at for e, _ in again] == [e.registered_at for e, _ in done]

    other = tmp_path / "other"
    _, path = write_module(other, tag, SOURCE.replace("x + y", "x + y + 1"))
    before = {(e.kind, e.name): e for e in registry(SECRET).entries()}
    with pytest.raises(RegistryError, match=rf"task '{name}.add' version 'v1' \(registered "
                                            rf"from .*reg/{name}.py\).*register under a new "
                                            rf"--version \(nothing was registered\)"):
        register_module(load_fresh(path), registry(SECRET), "v1")
    assert {(e.kind, e.name): e for e in registry(SECRET).entries()} == before
    assert {s for _, s in register_module(load_fresh(path), registry(SECRET),
                                          "v2")} == {REGISTERED}


def test_without_a_version_one_is_computed_from_the_code(tmp_path):
    tag = uuid.uuid4().hex[:8]
    _, path = write_module(tmp_path / "a", tag)
    first = register_module(load_module_from_file(str(path)), registry(), None)
    version = first[0][0].version
    assert len(version) == 16 and {e.version for e, _ in first} == {version}
    assert {s for _, s in register_module(load_module_from_file(str(path)), registry(),
                                          None)} == {UNCHANGED}
    _, changed = write_module(tmp_path / "b", tag, SOURCE.replace("x + y", "y + x"))
    second = register_module(load_fresh(changed), registry(), None)
    assert second[0][0].version != version
    with pytest.raises(ConfigError, match="a version is non-empty text"):
        register_module(load_module_from_file(str(path)), registry(), " v ")


def forge(registry_: Registry, kind: str, name: str, version: str, change) -> str:
    key = store_key(kind, name, version)
    data = json.loads(registry_.store.get(key))
    change(data)
    registry_.store.put(key, json.dumps(data).encode())
    return key


def test_entries_are_signed_and_forged_ones_refused(registered):
    name, _, _ = registered
    signed = registry(SECRET)
    entry = signed.get("task", f"{name}.add", "v1")
    assert entry is not None and entry.refused == ""
    fan_spec = signed.get("task", f"{name}.fan", "v1").spec

    forge(signed, "task", f"{name}.add", "v1", lambda d: d.update(spec=fan_spec))
    assert "its signature is wrong" in signed.get("task", f"{name}.add", "v1").refused
    forge(signed, "task", f"{name}.add", "v1", lambda d: d.pop("sig"))
    assert signed.get("task", f"{name}.add", "v1").refused == ("it is not signed, and "
                                                                "GRAFT_SECRET is set")
    # A genuine entry copied under another name or version is refused too.
    genuine = signed.store.get(store_key("task", f"{name}.fan", "v1"))
    signed.store.put(store_key("task", f"{name}.fan", "v9"), genuine)
    assert "signature is wrong" in signed.get("task", f"{name}.fan", "v9").refused
    assert "signature is wrong" in registry(b"another").get("task", f"{name}.fan",
                                                            "v1").refused
    assert registry(None).get("task", f"{name}.add", "v1").refused == ""  # no secret: trusted
    assert registry_key(SECRET) != registry_key(b"another") and registry_key(None) is None

    @reference_task(project="p", domain="d", name=f"{name}.add", version="v1")
    def add(x: int) -> int: ...

    @workflow
    def wf(x: int) -> int:
        return add(x=x)

    with pytest.raises(RegistryError, match=rf"node 'add': .*the registry entry of reference "
                                            rf"task '{name}.add' version 'v1' \(registry/.*\) is "
                                            rf"refused: it is not signed, and GRAFT_SECRET is "
                                            rf"set"):
        resolve_references(wf.graph(), settings(SECRET), open_store(settings().store_url))
    # Registering again replaces a refused entry.
    module = __import__(name)
    statuses = dict(((e.kind, e.name), s) for e, s in
                    register_module(module, registry(SECRET), "v1"))
    assert statuses["task", f"{name}.add"] == REPLACED
    assert statuses["task", f"{name}.fan"] == UNCHANGED
    assert resolve_references(wf.graph(), settings(SECRET),
                              open_store(settings().store_url)).nodes[0].task.module == name


def test_resolving_puts_the_registered_code_defaults_and_fixed_inputs_in_place(registered):
    name, tag, _ = registered

    @reference_task(project="p", domain="d", name=f"{name}.add", version="v1")
    def add(x: int) -> int: ...

    @reference_launch_plan(project="p", domain="d", name=f"scaled_{tag}", version="v1")
    def scaled(a: int) -> int: ...

    @reference_launch_plan(project="p", domain="d", name=f"fixed_{tag}", version="v1")
    def fixed(a: int) -> int: ...

    @reference_workflow(project="p", domain="d", name=f"{name}.pipeline", version="v1")
    def pipeline(a: int, b: int) -> int: ...

    @workflow
    def client(x: int) -> typing.List[int]:
        big = add(x=x).with_overrides(retries=5)
        return [big, scaled(a=x), fixed(a=big), pipeline(a=x, b=5),
                map_task(add)(x=[1, 2])[0]]

    store = open_store(settings().store_url)
    spec = resolve_references(client.graph(), settings(SECRET), store)
    nodes = spec.node_map()
    registered_add = nodes["add"]
    assert registered_add.task.module == name and registered_add.task.bundle
    assert registered_add.inputs == {"y": {"val": {"v": 10}}, "x": {"input": "x"}}
    assert registered_add.retries == 5  # with_overrides still applies (registered: 2)
    assert nodes["scaled"].kind == "workflow"
    assert nodes["scaled"].inputs["b"] == {"val": {"v": 100}}
    assert nodes["scaled"].subgraph.nodes[0].task.bundle == registered_add.task.bundle
    assert set(nodes["fixed"].inputs) == {"a"} and "b" not in nodes["fixed"].subgraph.inputs
    assert nodes["pipeline"].inputs["b"] == {"val": {"v": 5}}
    [mapped] = [n for n in spec.nodes if n.kind == "map"]
    assert mapped.map.template.task.bundle == registered_add.task.bundle
    assert mapped.inputs["y"] == {"val": {"v": 10}} and mapped.inputs_types["y"] == {"t": "int"}
    assert not any(n.task.module == REFERENCE_MODULE for _, n in spec.walk() if n.kind == "task")
    # Submitting uploads the client's own code; the registered nodes keep their bundles.
    stored = upload_spec(spec, store)
    from sdk.model.spec import GraphSpec
    from sdk.values.store import get_verified

    again = GraphSpec.loads(get_verified(store, stored)).node_map()
    assert again["add"].task.bundle == registered_add.task.bundle
    assert spec is not client.graph()
    plain = workflow(lambda: None)  # a spec without references is handed back as it is
    assert resolve_references(plain.graph(), settings(), store) is plain.graph()


@pytest.mark.parametrize("stub, error", [
    ("def add(x: str) -> int: ...", "input 'x' is str in the stub but int in the registered "
                                    "task"),
    ("def add(x: int, z: int) -> int: ...", "the stub declares input 'z', which the registered "
                                            "task does not take \\(its inputs: x: int, y: int\\)"),
    ("def add(y: int) -> int: ...", "the stub leaves out input\\(s\\) x: int, which the "
                                    "registered task has no default for"),
    ("def add(x: int) -> str: ...", "output 'o0' is str in the stub but int in the registered"),
    ("def add(x: int) -> None: ...", "the stub's outputs \\(none\\) are not the registered "
                                     "task's \\(o0: int\\)"),
])
def test_a_stub_that_does_not_fit_the_registered_interface_is_a_clear_error(
        registered, stub, error):
    name, _, _ = registered
    scope: dict[str, typing.Any] = {}
    exec(f"@reference_task(project='p', domain='d', name='{name}.add', version='v1')\n{stub}",
         {"reference_task": reference_task}, scope)
    add = scope["add"]
    given = {k: "1" if d == {"t": "str"} else 1 for k, d in add.interface.inputs.items()}

    @workflow
    def wf() -> None:
        add(**given)

    with pytest.raises(RegistryError, match=f"node 'add': reference task '{name}.add' version "
                                            f"'v1': {error}"):
        resolve_references(wf.graph(), settings(SECRET), open_store(settings().store_url))


def test_a_fixed_input_in_the_stub_and_a_missing_version_are_clear_errors(registered):
    name, tag, _ = registered

    @reference_launch_plan(project="p", domain="d", name=f"fixed_{tag}", version="v1")
    def fixed(a: int, b: int) -> int: ...

    @reference_task(project="p", domain="d", name=f"{name}.add", version="v7")
    def add(x: int) -> int: ...

    @workflow
    def gives_fixed(x: int) -> int:
        return fixed(a=x, b=x)

    @workflow
    def missing(x: int) -> int:
        return add(x=x)

    store = open_store(settings().store_url)
    with pytest.raises(RegistryError, match="input 'b' is fixed by the registered launch plan; "
                                            "leave it out of the stub"):
        resolve_references(gives_fixed.graph(), settings(SECRET), store)
    with pytest.raises(RegistryError, match=rf"reference task '{name}.add' version 'v7' is not "
                                            rf"registered in the store at .* \(registered "
                                            rf"versions of it: v1\); register it with `graft "
                                            rf"register FILE --version v7`"):
        resolve_references(missing.graph(), settings(SECRET), store)


def test_graft_register_and_its_list(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAFT_SECRET", SECRET.decode())
    tag = uuid.uuid4().hex[:8]
    name, path = write_module(tmp_path / "cli", tag)
    runner = CliRunner()
    first = runner.invoke(cli, ["register", str(path), "--version", "v1"])
    assert first.exit_code == 0, first.output
    assert f"task         {name}.add" in first.output and "registered" in first.output
    assert "(x: int, y: int = ...) -> int" in first.output
    listed = runner.invoke(cli, ["register", "--list", "--json"])
    rows = json.loads(listed.output)
    assert {(r["kind"], r["name"], r["version"]) for r in rows} >= {
        ("task", f"{name}.add", "v1"), ("launch_plan", f"fixed_{tag}", "v1")}
    assert runner.invoke(cli, ["register"]).exit_code != 0
