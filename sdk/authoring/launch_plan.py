"""Launch plans: a workflow with some inputs given defaults and some fixed, under a name.

    lp = LaunchPlan.get_or_create(wf, name="nightly", default_inputs={"n": 3},
                                  fixed_inputs={"region": "eu"})
    lp(n=5)                       # in-process, or as a node inside another workflow
    Client().submit(lp, n=5)      # on a cluster; `graft run FILE.py nightly` too

With `schedule=CronSchedule(...)` or `FixedRate(...)` (`sdk.authoring.schedule`) the plan
runs by itself once `graft launchplan activate FILE nightly` registered it: every input must
then have a value (fixed, default, or the tick time through `kickoff_time_input_arg`).

With `notifications=[Email(...), Slack(...), PagerDuty(...)]` (`sdk.authoring.notification`)
the scheduler mails the recipients when an execution the plan started on a cluster reaches a
phase they name; an in-process call sends nothing, as in flytekit (docs/notifications.md).

A fixed input given in a call runs as flytekit's local call runs it: an in-process call of
the plan uses the given value (a warning says a cluster refuses it). Inside a workflow and at
submission it is a clear error (flytekit compiles it into the node, and Flyte's admin refuses
the execution or drops the value).
"""

from __future__ import annotations

import logging
from typing import Any

from sdk.authoring.compiler import Called, current_builder, workflow_node
from sdk.authoring.notification import Notification, check_notifications
from sdk.authoring.schedule import Schedule, tick_datetime
from sdk.model import bindings as binding_ops
from sdk.model.bindings import Binding
from sdk.model.errors import CompileError, ConfigError, GraftError
from sdk.model.interface import Interface
from sdk.model.spec import GraphSpec, NodeSpec, TaskRef
from sdk.model.store import Store
from sdk.values.handlers import check_value
from sdk.values.literals import value_binding
from sdk.values.staging import staged

log = logging.getLogger(__name__)


class LaunchPlan(Called):
    """A named way to launch a workflow. Make one with `LaunchPlan.get_or_create`."""

    kind = "workflow"
    what = "launch plan"
    CACHE: dict[str, LaunchPlan] = {}

    @classmethod
    def get_or_create(cls, workflow: Any, name: str | None = None,
                      default_inputs: dict[str, Any] | None = None,
                      fixed_inputs: dict[str, Any] | None = None, schedule: Any = None,
                      notifications: list[Notification] | None = None,
                      **options: Any) -> LaunchPlan:
        """The launch plan `name` of `workflow` (its default one when `name` is None), made
        once per process; asking again with other settings is a ConfigError."""
        if options:
            raise ConfigError(f"LaunchPlan.get_or_create: option {next(iter(options))!r} is not "
                              f"taken by graft (it takes name, default_inputs, fixed_inputs, "
                              f"schedule, notifications)")
        notes = tuple(check_notifications(
            notifications, f"launch plan {name or getattr(workflow, 'name', '?')!r}"))
        if schedule is not None and not isinstance(schedule, Schedule):
            raise ConfigError(f"launch plan {name or getattr(workflow, 'name', '?')!r}: "
                              f"schedule must be a CronSchedule or a FixedRate, got "
                              f"{schedule!r}")
        if getattr(workflow, "kind", None) != "workflow" or isinstance(workflow, LaunchPlan):
            raise ConfigError(f"LaunchPlan.get_or_create takes a @workflow, got {workflow!r}")
        if name is None and (default_inputs or fixed_inputs or schedule is not None or notes):
            raise ConfigError(f"the default launch plan of {workflow.name!r} takes no inputs; "
                              f"give the launch plan a name (a named plan takes inputs, a "
                              f"schedule and notifications)")
        plan_name = name or workflow.name
        key = (workflow, dict(default_inputs or {}), dict(fixed_inputs or {}), schedule, notes)
        known = cls.CACHE.get(plan_name)
        if known is not None:
            if (known.workflow.ref, known.default_inputs, known.fixed_inputs,
                    known.schedule, known.notifications) != (workflow.ref, *key[1:]):
                raise ConfigError(f"launch plan {plan_name!r} exists already with other "
                                  f"settings; use another name")
            if known.workflow is workflow:
                return known
            # The same plan of a workflow defined again: its module was imported again (a
            # worker loading a newer code bundle). The plan follows the new definition.
        plan = cls(plan_name, *key)
        cls.CACHE[plan_name] = plan
        return plan

    @classmethod
    def create(cls, name: str, workflow: Any, default_inputs: dict[str, Any] | None = None,
               fixed_inputs: dict[str, Any] | None = None, schedule: Any = None,
               notifications: list[Notification] | None = None,
               **options: Any) -> LaunchPlan:
        """flytekit's other spelling: `get_or_create` with a name."""
        return cls.get_or_create(workflow, name, default_inputs, fixed_inputs, schedule,
                                 notifications, **options)

    @classmethod
    def get_default_launch_plan(cls, ctx: Any, workflow: Any) -> LaunchPlan:
        """The workflow's default launch plan (`ctx`, flytekit's context, is not used)."""
        return cls.get_or_create(workflow)

    def __init__(self, name: str, workflow: Any, default_inputs: dict[str, Any],
                 fixed_inputs: dict[str, Any], schedule: Schedule | None = None,
                 notifications: tuple[Notification, ...] = ()):
        where = f"launch plan {name!r}"
        inputs = workflow.interface.inputs
        for label, given in (("default_inputs", default_inputs), ("fixed_inputs", fixed_inputs)):
            for key, value in given.items():
                if key not in inputs:
                    raise ConfigError(f"{where}: {label} names {key!r}, which workflow "
                                      f"{workflow.name!r} does not take (inputs: "
                                      f"{', '.join(inputs)})")
                reason = check_value(value, inputs[key])
                if reason:
                    raise ConfigError(f"{where}: {label}[{key!r}]: {reason}")
        both = set(default_inputs) & set(fixed_inputs)
        if both:
            raise ConfigError(f"{where}: {', '.join(sorted(both))} cannot be both a default "
                              f"and fixed")
        self.name = name
        self.workflow = workflow
        self.default_inputs = default_inputs
        self.fixed_inputs = fixed_inputs
        free = {k: v for k, v in inputs.items() if k not in fixed_inputs}
        defaults = {k: v for k, v in workflow.interface.defaults.items() if k in free}
        defaults.update(default_inputs)
        iface = workflow.interface
        self.interface = Interface(free, dict(iface.outputs), iface.style, defaults,
                                   iface.namedtuple)
        self._graph: GraphSpec | None = None
        self.schedule = schedule
        if schedule is not None:
            self._check_schedule(schedule, where)
        self.notifications = tuple(notifications)

    def _check_schedule(self, schedule: Schedule, where: str) -> None:
        """A scheduled plan must be launchable with no inputs but the tick time."""
        schedule.check(where)
        arg = schedule.kickoff_time_input_arg
        inputs = self.interface.inputs
        if arg is not None:
            if arg not in inputs:
                raise ConfigError(f"{where}: kickoff_time_input_arg {arg!r} is not a free input "
                                  f"of workflow {self.workflow.name!r} (free inputs: "
                                  f"{', '.join(inputs) or 'none'})")
            reason = check_value(tick_datetime(0), inputs[arg])
            if reason:
                raise ConfigError(f"{where}: kickoff_time_input_arg {arg!r} must take a "
                                  f"datetime.datetime: {reason}")
        missing = [k for k in inputs if k != arg and k not in self.interface.defaults]
        if missing:
            raise ConfigError(f"{where}: a scheduled launch plan needs a value for every input; "
                              f"give {', '.join(missing)} in default_inputs or fixed_inputs")

    def scheduled_inputs(self) -> dict[str, Any]:
        """The values a scheduled run starts with, but the tick time."""
        arg = self.schedule.kickoff_time_input_arg if self.schedule is not None else None
        return {k: v for k, v in self.interface.defaults.items()
                if k in self.interface.inputs and k != arg}

    def notify_json(self) -> dict[str, Any] | None:
        """What the scheduler needs to notify about an execution of this plan (the `notify`
        of a submit message, docs/notifications.md); None without notifications."""
        if not self.notifications:
            return None
        return {"launch_plan": self.name, "workflow": self.workflow.name,
                "notifications": [n.to_json() for n in self.notifications]}

    @property
    def ref(self) -> str:
        return f"{self.workflow.ref}@{self.name}"

    def __repr__(self) -> str:
        return f"<graft launch plan {self.name!r} of {self.workflow.ref}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if current_builder() is not None:
            self._refuse_fixed(kwargs, CompileError)
            if self.notifications:
                # Flyte starts a child execution, which notifies; graft runs the plan as a
                # sub-workflow of the caller's execution: there is nothing to notify about.
                raise CompileError(f"launch plan {self.name!r} has notifications, and graft "
                                   f"runs a launch plan called inside a workflow as part of "
                                   f"that workflow's execution, which sends them no phase: "
                                   f"call workflow {self.workflow.name!r} there, or submit "
                                   f"the launch plan")
        elif set(kwargs) & set(self.fixed_inputs):
            return self._call_overriding_fixed(args, kwargs)
        return super().__call__(*args, **kwargs)

    def _call_overriding_fixed(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        """flytekit's local call of a plan: the workflow with the plan's saved inputs, updated
        by the call's (a fixed input included)."""
        given = sorted(set(kwargs) & set(self.fixed_inputs))
        log.warning("launch plan %r: the call gives its fixed input %s; an in-process call "
                    "uses the given value, as flytekit's local call does, but a cluster "
                    "refuses it", self.name, ", ".join(given))
        saved = {**self.interface.defaults, **self.fixed_inputs}
        return self.workflow(*args, **{**saved, **kwargs})

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        self._refuse_fixed(kwargs, ConfigError)
        return super().bind(args, kwargs)

    def _refuse_fixed(self, kwargs: dict[str, Any], error: type[GraftError]) -> None:
        fixed = sorted(set(kwargs) & set(self.fixed_inputs))
        if fixed:
            raise error(f"launch plan {self.name!r} fixes {', '.join(fixed)}; a fixed input "
                        f"cannot be given (make another launch plan, or use default_inputs)")

    def graph(self) -> GraphSpec:
        """The workflow's graph with the fixed inputs in place of graph inputs."""
        if self._graph is None:
            self._graph = self._fixed(self.workflow.graph(), staged())
        return self._graph

    def _fixed(self, graph: GraphSpec, store: Store) -> GraphSpec:
        types = self.workflow.interface.inputs
        scope: dict[str, Binding] = {
            name: value_binding(value, types[name], store,
                                f"fixed input {name!r} of launch plan {self.name!r}")
            for name, value in self.fixed_inputs.items()}

        def bind(b: Binding) -> Binding:
            return binding_ops.transform(
                b, lambda kind, body: scope[body] if kind == "input" and body in scope
                else {kind: body})

        def node(n: NodeSpec) -> NodeSpec:
            return NodeSpec(**{**n.__dict__, "inputs": {k: bind(v) for k, v in n.inputs.items()}})

        return GraphSpec(
            self.name, {k: v for k, v in graph.inputs.items() if k not in scope},
            [node(n) for n in graph.nodes],
            [type(o)(o.name, o.type, bind(o.binding)) for o in graph.outputs],
            graph.output_style, graph.output_ref, graph.failure_policy,
            node(graph.on_failure) if graph.on_failure is not None else None)

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        wf = self.workflow
        return workflow_node(self, TaskRef(wf.module, wf.qualname, self.name, bundle),
                             node_id, bindings, bundle)

    def run(self, values: dict[str, Any]) -> Any:
        raise GraftError(f"{self!r} runs as a workflow, not on a worker")

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self!r} is not a dynamic")
