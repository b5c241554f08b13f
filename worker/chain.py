"""Running the links of a chain after a node, in the pool process that ran it
(`scheduler.continuation` says when a message carries them, `sdk.wire.links` what they hold).

Each link runs only once the report of the one before it claimed it (`Leases.report_and_claim`):
not when the scheduler gave either up, nor when it was claimed before. It runs in the same
runner, under its own limits, and stops when its execution is given up, as any attempt does.
The chain stops at the first link that does not succeed, whose report then goes alone. Each
link is a task of its own for monitors: its received, started and succeeded (or failed)
events go out together once it ended, under a task id of its own, with its node and the
task id of the message it came in.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sdk.model.errors import SpecError
from sdk.model.report import Outcome
from sdk.wire.control import ControlChannel
from sdk.wire.keys import AttemptKey
from sdk.wire.leases import Leases
from sdk.wire.links import link_payload, with_outputs
from worker.monitor import failure_for_monitors, will_retry

log = logging.getLogger("graft.worker")

SUCCEEDED = (Outcome.VALUES.value, Outcome.CACHED.value)

RunLink = Callable[[str, int, dict[str, Any]], "dict[str, Any] | None"]


class Chain:
    """Reports an attempt and runs the links after it (`run`), for one task message."""

    def __init__(self, leases: Leases, control: ControlChannel, holder: str,
                 until_redis: Callable[[Callable[[], Any], str], Any],
                 events: Any = None, parent_task: str = "") -> None:
        self.leases, self.control = leases, control
        self.holder = holder
        self.until_redis = until_redis
        self.events = events  # a Celery event dispatcher buffering the task group, or None
        self.parent_task = parent_task

    def run(self, key: AttemptKey, message: dict[str, Any], links: list[dict[str, Any]],
            run_link: RunLink) -> int:
        """Report attempt `key`'s `message`; while the last report succeeded and a link
        follows, claim it with that report and run it (`run_link(node, attempt, payload)`:
        its report message, None when it was given up while it ran). A link's events go out
        after its report. Returns how many links ran."""
        eid = key[0]
        ran = 0
        ended: tuple[Any, ...] | None = None  # the last link that ran, its events not sent
        for link in links:
            if message.get("outcome") not in SUCCEEDED:
                break
            try:
                inputs = with_outputs(link["inputs"], key[1], message["outputs"])
            except (KeyError, TypeError, SpecError) as exc:
                log.warning("link %s after node %s of %s not run: its inputs name an output "
                            "the node did not give (%r)", link["node"], key[1], eid, exc)
                break
            after: AttemptKey = (eid, link["node"], link["attempt"])
            claimed = self._report(key, message, after)
            self._send_events(ended)
            ended = None
            if not claimed:
                log.info("node %s of %s attempt %s, the link after node %s, was given up or "
                         "taken: not run here", after[1], eid, after[2], key[1])
                return ran
            payload = link_payload(link, inputs)
            started = time.time()
            reply = run_link(after[1], after[2], payload)
            ran += 1
            if reply is None:
                log.info("node %s of %s attempt %s was given up by the scheduler: stopped",
                         after[1], eid, after[2])
                self._send_events((after, link, payload, started, None))
                return ran
            if reply["outcome"] == Outcome.ERROR.value:
                log.info("node %s of %s failed: %s", after[1], eid,
                         reply["error"].get("message"))
            key, message = after, reply
            ended = (after, link, payload, started, reply)
        self._report(key, message, None)
        self._send_events(ended)
        return ran

    def _report(self, key: AttemptKey, message: dict[str, Any],
                after: AttemptKey | None) -> bool:
        """Report `message`, claiming `after` with it (True when claimed)."""
        stream = self.control.key_for(message)
        what = f"reporting node {key[1]} of {key[0]}"
        if after is None:
            fields = self.control.fields(message)
            self.until_redis(lambda: self.leases.report(key, stream, fields), what)
            return False
        claiming = self.control.fields({**message, "continued": [after[1], after[2]]})
        plain = self.control.fields(message)
        return bool(self.until_redis(lambda: self.leases.report_and_claim(
            key, after, self.holder, stream, claiming, plain), what))

    def _send_events(self, ended: tuple[Any, ...] | None) -> None:
        """The task events of a link that ran (its reply None: given up), published at
        once."""
        if ended is None or self.events is None:
            return
        key, link, payload, started, reply = ended
        task = link["spec"].get("task") or {}
        name = f"{task.get('module', '?')}.{task.get('qualname', '?')}"
        task_id = str(uuid.uuid4())
        send = self.events.send
        send("task-received", uuid=task_id, name=name, timestamp=started,
             args=f"execution={key[0]} node={key[1]} attempt={key[2]} (after task "
                  f"{self.parent_task})", kwargs="{}", root_id=self.parent_task,
             parent_id=self.parent_task, retries=key[2] - 1, eta=None, expires=None)
        send("task-started", uuid=task_id, timestamp=started)
        now = time.time()
        if reply is None:
            send("task-revoked", uuid=task_id, terminated=True, signum=None, expired=False)
        elif reply["outcome"] in SUCCEEDED:
            send("task-succeeded", uuid=task_id, result=repr(reply["outcome"]),
                 runtime=now - started)
        else:
            exc = failure_for_monitors(reply, payload)
            retrying = will_retry(reply.get("error") or {}, payload)
            send("task-retried" if retrying else "task-failed", uuid=task_id,
                 exception=repr(exc), traceback=getattr(exc, "traceback", ""))
        try:
            self.events.flush()
        except Exception as exc:  # the broker went: the events are lost, as Celery's are
            log.debug("task events of node %s not published: %r", key[1], exc)
