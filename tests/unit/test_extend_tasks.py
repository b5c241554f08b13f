"""Task classes with flytekit's API (`PythonTask`, `PythonInstanceTask`, `Interface`,
`TaskMetadata`): made by creating an instance, run in-process and in workflows, with the
retries, timeout and cache their metadata gives."""

from __future__ import annotations

import datetime

import pytest
from workflows import extend_tasks as et

from sdk import ConfigError, TaskMetadata
from sdk.extend import Interface, PythonTask


def test_a_sensor_class_runs_in_a_workflow(tmp_path):
    path = tmp_path / "some-file"
    path.write_text("Hello World!")
    assert et.sensed(path=str(path)) == "Hello World!"
    assert et.sensor(path=str(path)) == str(path)


def test_the_instance_is_a_task_of_the_module_that_creates_it():
    assert et.sensor.name == "my-objectstore-sensor"
    assert et.sensor.ref == "workflows.extend_tasks:my-objectstore-sensor"
    assert et.sensor.task_type == "object-store-sensor"
    assert et.sensor.python_interface.inputs == {"path": str}
    [node] = et.sensor.graph().nodes
    assert node.retries == 2 and node.timeout_s == 1200.0
    assert node.task.name == "my-objectstore-sensor"


def test_several_outputs_a_default_a_config_and_post_execute():
    assert et.split_wf(text="a,b,c") == ("A", ["b", "c"])
    assert et.splitter(text="x,y,z,w", limit=2) == ("X", ["y"])
    [node] = et.splitter.graph().nodes
    assert node.cache and node.cache_version == "1"
    assert node.requests["mem_bytes"] == 100 * 2**20
    assert list(et.splitter.interface.outputs) == ["o0", "o1"]


def test_an_exception_in_execute_fails_the_node():
    with pytest.raises(RuntimeError, match="execute failed"):  # in-process: execute's own
        et.failing()


def test_task_metadata_checks_itself_as_flytekits():
    assert TaskMetadata(timeout=30).timeout == datetime.timedelta(seconds=30)
    with pytest.raises(ValueError, match="cache_version`` is not set"):
        TaskMetadata(cache=True)
    with pytest.raises(ValueError, match="``cache`` is not enabled"):
        TaskMetadata(cache_serialize=True)


def test_settings_graft_has_no_use_for_are_config_errors():
    class Noop(PythonTask):
        def execute(self, **kwargs):
            return None

    with pytest.raises(ConfigError, match=r"TaskMetadata\(interruptible=...\) is a flytekit "
                                          r"setting that graft does not take"):
        Noop(task_type="noop", name="noop1", metadata=TaskMetadata(interruptible=True))
    with pytest.raises(ConfigError, match="option 'pod_template' is a flytekit option"):
        Noop(task_type="noop", name="noop2", pod_template=object())


def test_interface_takes_types_or_types_with_defaults():
    iface = Interface(inputs={"a": int, "b": (str, "x")}, outputs={"o": float})
    assert iface.inputs == {"a": int, "b": str}
    assert iface.default_inputs_as_kwargs == {"b": "x"}
    with pytest.raises(ValueError, match="Input name must be a valid Python identifier"):
        Interface(inputs={"not valid": int})
