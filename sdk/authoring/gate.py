"""Gate nodes, as flytekit's `sleep`, `wait_for_input` and `approve` (`flytekit.core.gate`):

    sleeping = sleep(timedelta(minutes=5))                         # waits, then goes on
    title = wait_for_input("title", timeout=timedelta(hours=1), expected_type=str)
    final = approve(report, "approve-report", timeout=timedelta(hours=2))

Inside a `@workflow`, a `@dynamic` or a conditional's case each call is one node of kind
`gate` (its id the gate's name, `sleep-gate` for a sleep), which runs on no worker. It
returns what a task call returns: nothing to pass on for a sleep (it can be ordered with
`>>`), the signal's value for `wait_for_input`, and the approved value itself for
`approve`. On a cluster the scheduler holds the gate until its time passes or a signal
names it (`graft signal`, `graft approve`, `Execution.set_signal`); in-process, as in
flytekit, a sleep does not sleep and the other gates ask on the terminal
(`sdk.runtime.gates`). Outside a workflow, a call runs that in-process gate at once.
"""

from __future__ import annotations

import datetime
from typing import Any

from sdk.authoring.compiler import GraphBuilder, current_builder
from sdk.authoring.options import timeout_seconds
from sdk.authoring.promise import Promise
from sdk.model import entity as registry
from sdk.model.bindings import Binding
from sdk.model.errors import CompileError, ConfigError, GraftError
from sdk.model.gates import DEFAULT_TIMEOUT_S
from sdk.model.interface import Interface
from sdk.model.spec import GateSpec, GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.values.handlers import describe

SLEEP_NAME = "sleep-gate"  # flytekit's name for every sleep


class GateError(CompileError, ValueError):
    """A gate cannot be made of what it was given (a `ValueError` too, as in flytekit)."""


class Gate:
    """One gate call: what it waits for and its interface. Inside a body it adds its node;
    outside one it is a runnable of one gate node, run in-process."""

    kind = "gate"

    def __init__(self, gate: GateSpec, interface: Interface, timeout_s: float | None):
        self.gate = gate
        self.name = gate.name
        self.interface = interface
        self.timeout_s = timeout_s

    @property
    def ref(self) -> str:
        return f"sdk.authoring.gate:{self.gate.kind}[{self.name}]"

    def __repr__(self) -> str:
        return f"<graft gate {self.gate.kind} {self.name!r}>"

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        qualname = {"sleep": "sleep", "signal": "wait_for_input", "approve": "approve"}
        return NodeSpec(node_id, "gate", TaskRef("sdk.authoring.gate", qualname[self.gate.kind],
                                                 self.name),
                        dict(self.interface.inputs), dict(self.interface.outputs), bindings,
                        timeout_s=self.timeout_s, gate=self.gate)

    def add(self, builder: GraphBuilder, bindings: dict[str, Binding]) -> Any:
        node_id = builder.new_id(self.name)
        builder.add_node(self.node_spec(node_id, bindings))
        return builder.promises(node_id, self.name, self.interface)

    # ---- in-process, outside a body (sdk.model.entity.Runnable) -----------------------------

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        return dict(kwargs)

    def graph(self) -> GraphSpec:
        node = self.node_spec(self.name, {n: {"input": n} for n in self.interface.inputs})
        outputs = [OutputSpec(n, d, {"ref": [node.id, n]})
                   for n, d in self.interface.outputs.items()]
        return GraphSpec(self.name, dict(self.interface.inputs), [node], outputs,
                         self.interface.style)

    def run(self, values: dict[str, Any]) -> Any:
        raise GraftError(f"{self!r} is held by its driver, not run on a worker")

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self!r} is not a dynamic")


def sleep(duration: datetime.timedelta) -> Any:
    """A gate that waits `duration` (a timedelta, or seconds) and then lets what is ordered
    after it (`sleep(...) >> task()`) run. On a cluster it holds no worker; in-process, as
    in flytekit, it does not sleep."""
    seconds = _duration(duration)
    gate = Gate(GateSpec("sleep", SLEEP_NAME, duration_s=seconds),
                Interface({}, {}, "none"), None)
    return _call(gate, {}, {})


def wait_for_input(name: str, timeout: datetime.timedelta | None, expected_type: Any) -> Any:
    """A gate whose value is given from outside: a signal named `name` of `expected_type`
    (`graft signal ID name VALUE`, `Execution.set_signal(name, value)`), or in-process an
    answer typed on the terminal. Fails with a GateTimeout when none came within `timeout`
    (a timedelta; None or 0: one hour, flytekit's default)."""
    _check_name(name, "wait_for_input")
    desc = describe(expected_type)
    gate = Gate(GateSpec("signal", name, type=desc), Interface({}, {"o0": desc}, "single"),
                _timeout(timeout, f"wait_for_input({name!r})"))
    return _call(gate, {}, {})


def approve(upstream_item: Any, name: str, timeout: datetime.timedelta | None) -> Any:
    """A gate that passes `upstream_item` (one output of a task or sub-workflow call) on once
    it is approved: `graft approve ID name`, `Execution.approve(name)`, or in-process a yes
    on the terminal. A rejection fails it with FlyteDisapprovalException; so does, as a
    GateTimeout, no answer within `timeout` (None or 0: one hour)."""
    _check_name(name, "approve")
    where = f"approve({name!r})"
    timeout_s = _timeout(timeout, where)
    builder = current_builder()
    if isinstance(upstream_item, Promise):
        binding = upstream_item._binding
        if upstream_item._node is None:
            raise GateError(f"{where}: workflow inputs cannot be passed to approval nodes; "
                            f"approve the output of a task")
        var = str(binding["ref"][1]) if "ref" in binding else "o0"
        desc = upstream_item._type
    elif upstream_item is None or not _plain_allowed(builder):
        raise GateError(f"{where}: approval takes one output of a task or sub-workflow call, "
                        f"got {upstream_item!r}; you can't use approval on a task that "
                        f"doesn't return anything")
    else:  # a plain value: in a @dynamic body, or in-process outside any workflow
        var, desc = "o0", describe(type(upstream_item))
    gate = Gate(GateSpec("approve", name), Interface({var: desc}, {var: desc}, "single"),
                timeout_s)
    return _call(gate, {var: upstream_item}, {var: desc})


def _call(gate: Gate, values: dict[str, Any], types: dict[str, TypeDesc]) -> Any:
    builder = current_builder()
    if builder is None:
        return registry.run_locally(gate, (), values)  # type: ignore[arg-type]
    bindings = {n: builder.to_binding(v, types[n], f"{gate!r}, input {n!r}")
                for n, v in values.items()}
    return gate.add(builder, bindings)


def _plain_allowed(builder: GraphBuilder | None) -> bool:
    return builder is None or builder.dynamic


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name == "on-failure" \
            or len(name) > 255:
        raise GateError(f"{what}(name): the name is a non-empty string of at most 255 "
                        f"characters without '/' (and not 'on-failure'), got {name!r}")


def _timeout(timeout: Any, where: str) -> float:
    return timeout_seconds(timeout, where) or DEFAULT_TIMEOUT_S


def _duration(duration: Any) -> float:
    if isinstance(duration, datetime.timedelta):
        seconds = duration.total_seconds()
    elif isinstance(duration, (int, float)) and not isinstance(duration, bool):
        seconds = float(duration)
    else:
        raise ConfigError(f"sleep(duration): a timedelta or seconds, got {duration!r}")
    if seconds < 0:
        raise ConfigError(f"sleep(duration): must not be negative, got {duration!r}")
    return seconds
