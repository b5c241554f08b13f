"""Launch plan schedules: the scheduler starts an execution at each tick, once.

`graft launchplan activate` sends an `activate` message with the plan's compiled spec, its
inputs (all but the tick time) and its schedule; the `Ticker` records it in the state
(`graft_launch_plans`). On each turn of the scheduler's loop, when a tick is due, one
transaction does, for every active launch plan:

    the due ticks := the ticks after its cursor, up to now (at most the newest
                     `max_catchup` of them: the catch-up policy, docs/schedules.md)
    for each due tick, oldest first:
        record the tick (launch plan, tick time)  -- unique: a second scheduler, or this
        create its execution                          one after a restart, cannot fire it again
    move the cursor to the newest due tick

and only after it commits are the executions' first nodes sent (`scheduler.work`).
A scheduler killed before the commit fired nothing (its successor fires the tick late); one
killed after it fired it exactly once. Ticks are whole unix seconds (UTC); the tick time, not
the time it actually fired, is what `kickoff_time_input_arg` receives.

The state of each launch plan is also written to the status board (`<prefix>:launchplans`),
which `graft launchplan ls` reads.

The ticker needs little of the scheduler, and sees only that (`Launcher`): a unit of work to
fire ticks in, a way to start an execution in it, and the registry of launch plans
(`LaunchPlans`), which applies the `activate` and `deactivate` messages the scheduler hands
it and tells the ticker to read the plans again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from scheduler.batch import CONTROL, Batch, Refusal
from scheduler.notices import Notices
from scheduler.state import LaunchPlanRecord, StateTx, TickRecord
from sdk.authoring.schedule import describe_json, due_ticks, next_tick, tick_datetime
from sdk.model.config import env_number
from sdk.model.errors import GraftError
from sdk.model.spec import GraphSpec
from sdk.model.store import Store
from sdk.values.literals import value_binding
from sdk.values.store import get_verified
from sdk.wire.messages import inputs_digest

log = logging.getLogger("graft.scheduler.cron")

DEFAULT_MAX_CATCHUP = 10
RECHECK_S = 60.0  # read the launch plans again at least this often
RETRY_S = 5.0  # after a launch plan failed to fire


def max_catchup_from_env() -> int:
    """`GRAFT_SCHEDULE_MAX_CATCHUP`: how many missed ticks of one launch plan run at most."""
    return int(env_number("GRAFT_SCHEDULE_MAX_CATCHUP", DEFAULT_MAX_CATCHUP, int, 1))


class LaunchPlans:
    """The launch plans registered in the state: applies `activate` and `deactivate`
    messages in the scheduler's transaction, and notes that the ticker must read them again."""

    def __init__(self, clock: Callable[[], float], notices: Notices | None = None):
        self.clock = clock
        self.notices = notices or Notices()
        self.changed = True  # the ticker reads the plans again before its next tick
        # Activations refused since the ticker last showed them: name -> the request that
        # asked (its id, from the message), the spec key, why.
        self._refused: dict[str, dict[str, Any]] = {}

    def apply(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Apply an `activate` or `deactivate` message inside the scheduler's transaction.

        Activating a plan that is active with the same schedule replaces its spec and inputs
        and keeps its cursor (no tick fires twice); otherwise its ticks count from now: the
        ticks of a time it was inactive never run. An activation whose notifications this
        scheduler cannot send is refused, and shown refused on the board (`take_refused`)."""
        name = msg["launch_plan"]
        now = int(self.clock())
        old = tx.get_launch_plan(name)
        self.changed = True
        if msg["type"] == "deactivate":
            if old is None:
                batch.refused.append(Refusal(CONTROL, f"deactivate: no launch plan {name!r} "
                                             f"is registered", msg))
                return
            tx.put_launch_plan(replace(old, active=False))
            log.info("launch plan %s deactivated", name)
            return
        unsendable = self.notices.undeliverable(msg.get("notifications"),
                                                f"launch plan {name!r}")
        if unsendable:
            log.error("activation of launch plan %s refused: %s", name, unsendable)
            self._refused[name] = {"request": msg.get("request"), "spec": msg["spec"],
                                   "reason": unsendable, "at": now}
            batch.refused.append(Refusal(CONTROL, f"activate: {unsendable}", msg))
            return
        keep = old is not None and old.active and old.schedule == msg["schedule"]
        tx.put_launch_plan(LaunchPlanRecord(
            name=name, workflow=msg["workflow"], spec_key=msg["spec"], inputs=msg["inputs"],
            schedule=msg["schedule"], active=True, notifications=msg.get("notifications"),
            anchor_s=old.anchor_s if keep and old else now,
            cursor_s=old.cursor_s if keep and old else now,
            skipped=old.skipped if keep and old else 0))
        log.info("launch plan %s activated: %s", name, describe_json(msg["schedule"]))

    def forget(self) -> None:
        """This scheduler stops serving: read everything again when it serves next."""
        self.changed = True

    def take_refused(self) -> dict[str, dict[str, Any]]:
        """The activations refused since the last call, by launch plan."""
        refused, self._refused = self._refused, {}
        return refused

    def take_changed(self) -> bool:
        """Whether the plans changed since the last call (they must be read again)."""
        changed, self.changed = self.changed, False
        return changed


class Launcher(Protocol):
    """What the ticker needs of the scheduler."""

    clock: Callable[[], float]
    store: Store
    launch_plans: LaunchPlans

    def commit(self, batch: Batch, work: Callable[[StateTx], Any]) -> None:
        """Run `work` in one transaction; act on `batch` once it committed."""
        ...

    def submit(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Create the execution a checked submit message describes."""
        ...

    def discard(self, execution_id: str) -> None:
        """Forget what an execution created in a rolled-back savepoint left in memory."""
        ...

    def new_execution_id(self) -> str: ...

    def is_transient(self, exc: BaseException) -> bool: ...


class PlanBoard(Protocol):
    """Where the launch plans are shown (`sdk.wire.launch_plans.LaunchPlanBoard`)."""

    def write(self, records: list[dict[str, Any]]) -> None: ...

    def refuse(self, refused: dict[str, dict[str, Any]]) -> None:
        """Show activations the scheduler refused (name -> spec key, reason)."""


class Ticker:
    """Fires the active launch plans' ticks through `launcher`."""

    def __init__(self, launcher: Launcher, board: PlanBoard | None = None, *,
                 clock: Callable[[], float] | None = None, max_catchup: int | None = None):
        self.launcher = launcher
        self.plans = launcher.launch_plans
        self.board = board
        self.clock = clock or launcher.clock
        self.max_catchup = max_catchup if max_catchup is not None else max_catchup_from_env()
        self._due_at = 0.0  # wall-clock time to read the launch plans again
        self._inputs: dict[str, dict[str, Any]] = {}  # spec key -> its graph's input types

    def next_due_s(self) -> float:
        """Seconds until the ticker needs a turn."""
        if self.plans.changed:
            return 0.0
        return max(0.0, self._due_at - self.clock())

    def tick(self) -> list[TickRecord]:
        """Fire every due tick of the active launch plans; return the ticks fired."""
        now = self.clock()
        if self.plans.take_changed():
            self._due_at = 0.0
        if now < self._due_at:
            return []
        batch = Batch()
        fired: list[TickRecord] = []
        failed: set[str] = set()
        plans: list[LaunchPlanRecord] = []
        last: dict[str, TickRecord] = {}

        def work(tx: StateTx) -> None:
            for plan in tx.launch_plans(active=True):
                if _next(plan) is None:  # e.g. `0 0 30 2 *`, registered by a hand-made message
                    tx.put_launch_plan(replace(plan, active=False))
                    log.error("launch plan %s deactivated: its schedule (%s) names no time "
                              "after %s", plan.name, describe_json(plan.schedule),
                              tick_datetime(plan.cursor_s).isoformat())
                    continue
                mark = (len(batch.ready), len(batch.observed), len(batch.notices))
                created: list[str] = []
                try:
                    with tx.savepoint():
                        fired.extend(self._fire(tx, plan, now, batch, created))
                except Exception as exc:
                    if self.launcher.is_transient(exc):
                        raise
                    self._undo(batch, mark, created)
                    failed.add(plan.name)
                    log.warning("launch plan %s: its due ticks were not fired (%s: %s); "
                                "trying again in %g s", plan.name, type(exc).__name__, exc,
                                RETRY_S)
            plans.extend(tx.launch_plans())
            for plan in plans:
                newest = tx.ticks(plan.name, limit=1)
                if newest:
                    last[plan.name] = newest[0]

        self.launcher.commit(batch, work)
        for t in fired:
            log.info("launch plan %s: tick %s started execution %s", t.launch_plan,
                     tick_datetime(t.tick_s).isoformat(), t.execution_id)
        upcoming = {p.name: _next(p) for p in plans if p.active}
        due = [at for name, at in upcoming.items() if name not in failed and at is not None]
        self._due_at = min([now + RECHECK_S, *due, *([now + RETRY_S] if failed else [])])
        if self.board is not None:
            self.board.write([_board_record(p, upcoming.get(p.name), last.get(p.name))
                              for p in plans])
            refused = self.plans.take_refused()
            if refused:
                self.board.refuse(refused)
        return fired

    def _undo(self, batch: Batch, mark: tuple[int, int, int], created: list[str]) -> None:
        """Forget what a rolled-back plan's executions left in memory and in the batch, so
        nothing is sent, shown or counted for executions that do not exist."""
        del batch.ready[mark[0]:]
        del batch.observed[mark[1]:]
        del batch.notices[mark[2]:]
        for eid in created:
            self.launcher.discard(eid)
            for held in (batch.board, batch.board_nodes, batch.touched):
                held.pop(eid, None)

    def _fire(self, tx: StateTx, plan: LaunchPlanRecord, now: float, batch: Batch,
              created: list[str]) -> list[TickRecord]:
        ticks, skipped, cursor = due_ticks(plan.schedule, plan.cursor_s, now, plan.anchor_s,
                                           self.max_catchup)
        if cursor == plan.cursor_s:
            return []
        if skipped:
            log.warning("launch plan %s: %d missed ticks before %s are skipped (catch-up runs "
                        "the newest %d; GRAFT_SCHEDULE_MAX_CATCHUP)", plan.name, skipped,
                        tick_datetime(ticks[0]).isoformat(), self.max_catchup)
        # Ticks recorded already are passed over (a cursor behind its records, which only a
        # hand-edited database shows, would otherwise stop the plan for good); a tick another
        # scheduler records meanwhile fails `add_tick` below and rolls the plan back.
        recorded = {t.tick_s for t in tx.ticks(plan.name, limit=len(ticks))} if ticks else set()
        fired = []
        for tick_s in ticks:
            if tick_s in recorded:
                log.warning("launch plan %s: tick %s was fired already; passed over",
                            plan.name, tick_datetime(tick_s).isoformat())
                continue
            record = TickRecord(plan.name, tick_s, self.launcher.new_execution_id(),
                                time.time())
            tx.add_tick(record)  # the guard: raises if this tick was fired already
            created.append(record.execution_id)
            batch.seen.add(record.execution_id)
            self.launcher.submit(tx, self._submission(plan, record), batch)
            fired.append(record)
        tx.put_launch_plan(replace(plan, cursor_s=cursor, skipped=plan.skipped + skipped))
        return fired

    def _submission(self, plan: LaunchPlanRecord, tick: TickRecord) -> dict[str, Any]:
        """The submit message a tick amounts to: the plan's inputs, and the tick time."""
        inputs = dict(plan.inputs)
        submit = {"type": "submit", "execution": tick.execution_id, "spec": plan.spec_key,
                  "inputs": inputs, "workflow": plan.name, "submitted_at": tick.fired_at}
        if plan.notifications:
            submit["notify"] = {"launch_plan": plan.name, "workflow": plan.workflow,
                                "notifications": plan.notifications}
        arg = plan.schedule.get("kickoff_arg")
        if arg:
            types = self._inputs.get(plan.spec_key)
            if types is None:
                try:
                    spec = GraphSpec.loads(get_verified(self.launcher.store, plan.spec_key))
                except GraftError as exc:
                    if self.launcher.is_transient(exc):
                        raise
                    return submit  # the spec is gone or altered: its execution fails, saying so
                types = self._inputs[plan.spec_key] = dict(spec.inputs)
            if arg in types:  # otherwise the execution is refused for its missing input
                inputs[arg] = value_binding(tick_datetime(tick.tick_s), types[arg],
                                            self.launcher.store,
                                            f"kickoff time of launch plan {plan.name!r}")
        return submit


def _next(plan: LaunchPlanRecord) -> int | None:
    """The plan's next tick after its cursor; None when its schedule names no later time."""
    try:
        return next_tick(plan.schedule, plan.cursor_s, plan.anchor_s)
    except ValueError:  # croniter's CroniterBadDateError
        return None


def _board_record(plan: LaunchPlanRecord, next_s: int | None, last: TickRecord | None
                  ) -> dict[str, Any]:
    return {"name": plan.name, "workflow": plan.workflow, "schedule": plan.schedule,
            "describe": describe_json(plan.schedule), "active": plan.active,
            "next_run_s": next_s if plan.active else None,
            "last_tick_s": last.tick_s if last else None,
            "last_execution": last.execution_id if last else None,
            "skipped": plan.skipped, "spec": plan.spec_key, "anchor_s": plan.anchor_s,
            "inputs_digest": inputs_digest(plan.inputs), "updated_at": plan.updated_at,
            "notifications": plan.notifications or []}
