"""Launch plan notifications: `Email`, `Slack` and `PagerDuty`, as in flytekit.

    LaunchPlan.get_or_create(wf, name="nightly", notifications=[
        Email(phases=[WorkflowExecutionPhase.FAILED, WorkflowExecutionPhase.TIMED_OUT],
              recipients_email=["oncall@example.com"])])

A notification names the terminal phases it fires on and who receives it. They are sent on a
cluster only, by the scheduler, when an execution the launch plan started (submitted, or fired
by its schedule) reaches one of those phases (docs/notifications.md); an in-process call sends
nothing, as flytekit's local runs send nothing. As in Flyte, all three are e-mails: a Slack or
PagerDuty notification is a mail to that service's e-mail integration address.

Phases are flytekit's integers (`flytekit.models.core.execution.WorkflowExecutionPhase`), and
only the terminal ones are accepted, as flytekit does; on the wire and in the scheduler's state
a notification is JSON (`to_json`, checked by `check_json`):

    {"kind": "email" | "slack" | "pagerduty", "phases": ["SUCCEEDED", ...],
     "recipients": ["someone@example.com", ...]}
"""

from __future__ import annotations

import re
from typing import Any

from sdk.model.errors import ConfigError

KINDS = ("email", "slack", "pagerduty")
MAX_RECIPIENTS = 100
MAX_ADDRESS_CHARS = 254  # RFC 5321's limit on a forward path
# An address: no whitespace or control characters (a line break would start a mail header),
# no commas or angle brackets (they would name more addresses), one "@" with text around it.
_ADDRESS = re.compile(r"^[^\s,<>@\x00-\x1f\x7f]+@[^\s,<>@\x00-\x1f\x7f]+$")


class WorkflowExecutionPhase:
    """The phases of a workflow execution, with flytekit's values (Flyte's protobuf enum).
    Notifications take the terminal ones: SUCCEEDED, FAILED, ABORTED and TIMED_OUT."""

    UNDEFINED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDING = 3
    SUCCEEDED = 4
    FAILING = 5
    FAILED = 6
    ABORTED = 7
    TIMED_OUT = 8
    ABORTING = 9

    @classmethod
    def enum_to_string(cls, int_value: Any) -> str:
        """The phase's name (`4` -> `"SUCCEEDED"`), or the value as text when it is none."""
        for name, value in vars(cls).items():
            if name.isupper() and value == int_value:
                return name
        return str(int_value)


TERMINAL_PHASES = ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")


class Notification:
    """What the three kinds share: the phases that fire it and its recipients."""

    kind = ""
    VALID_PHASES = {getattr(WorkflowExecutionPhase, p) for p in TERMINAL_PHASES}

    def __init__(self, phases: list[int], recipients_email: list[str]):
        what = f"{type(self).__name__}(...)"
        if isinstance(phases, (str, bytes)) or not hasattr(phases, "__iter__"):
            raise ConfigError(f"{what}: phases must be a list of WorkflowExecutionPhase values, "
                              f"got {phases!r}")
        phases = list(phases)
        if not phases:
            raise ConfigError(f"{what}: give at least one phase for a notification")
        for phase in phases:
            if isinstance(phase, bool) or phase not in self.VALID_PHASES:
                raise ConfigError(
                    f"{what}: invalid phase {WorkflowExecutionPhase.enum_to_string(phase)}; "
                    f"only terminal phases are permitted for notifications "
                    f"({', '.join(f'WorkflowExecutionPhase.{p}' for p in TERMINAL_PHASES)})")
        self.phases = phases
        self.recipients_email = check_recipients(recipients_email, what)

    @property
    def phase_names(self) -> list[str]:
        """The phases by name, in the order given, without repeats."""
        return list(dict.fromkeys(WorkflowExecutionPhase.enum_to_string(p)
                                  for p in self.phases))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "phases": self.phase_names,
                "recipients": list(self.recipients_email)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notification) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.kind, tuple(self.phase_names), tuple(self.recipients_email)))

    def __repr__(self) -> str:
        phases = ", ".join(f"WorkflowExecutionPhase.{p}" for p in self.phase_names)
        return f"{type(self).__name__}(phases=[{phases}], " \
               f"recipients_email={self.recipients_email!r})"


class Email(Notification):
    """An e-mail to people."""

    kind = "email"


class Slack(Notification):
    """An e-mail to a Slack channel's e-mail address (Slack's "Send emails to Slack")."""

    kind = "slack"


class PagerDuty(Notification):
    """An e-mail to a PagerDuty service's e-mail integration address."""

    kind = "pagerduty"


def check_recipients(recipients: Any, what: str) -> list[str]:
    """The recipients as a list; ConfigError naming `what` unless they are 1 to 100 plain
    e-mail addresses (Flyte's admin refuses an empty list or an empty address)."""
    if isinstance(recipients, (str, bytes)) or not isinstance(recipients, (list, tuple)):
        raise ConfigError(f"{what}: recipients_email must be a list of e-mail addresses, got "
                          f"{recipients!r}")
    if not recipients:
        raise ConfigError(f"{what}: recipients_email is empty; name at least one address")
    if len(recipients) > MAX_RECIPIENTS:
        raise ConfigError(f"{what}: at most {MAX_RECIPIENTS} recipients, got {len(recipients)}")
    for address in recipients:
        if not isinstance(address, str) or len(address) > MAX_ADDRESS_CHARS \
                or not _ADDRESS.match(address):
            raise ConfigError(f"{what}: {address!r} is not an e-mail address (one '@', no "
                              f"spaces, commas, angle brackets or line breaks)")
    return list(recipients)


def check_notifications(notifications: Any, where: str) -> list[Notification]:
    """A launch plan's `notifications=` as a list; ConfigError naming `where` otherwise."""
    if notifications is None:
        return []
    if isinstance(notifications, Notification):
        notifications = [notifications]
    if not isinstance(notifications, (list, tuple)):
        raise ConfigError(f"{where}: notifications must be a list of Email, Slack or PagerDuty, "
                          f"got {notifications!r}")
    for n in notifications:
        if not isinstance(n, Notification) or n.kind not in KINDS:
            raise ConfigError(f"{where}: notifications takes Email, Slack or PagerDuty "
                              f"(sdk.core.notification), got {n!r}")
    return list(notifications)


def check_json(notifications: Any) -> str | None:
    """Why `notifications` is not a list of notifications' JSON (`Notification.to_json`), or
    None when it is one. What a control message carries is checked with this."""
    if not isinstance(notifications, list):
        return f"notifications must be a list, got {type(notifications).__name__}"
    for i, n in enumerate(notifications):
        if not isinstance(n, dict) or set(n) != {"kind", "phases", "recipients"}:
            return f"notification {i} must have exactly kind, phases and recipients"
        if n["kind"] not in KINDS:
            return f"notification {i}: unknown kind {str(n['kind'])[:40]!r}"
        phases = n["phases"]
        if not isinstance(phases, list) or not phases \
                or any(p not in TERMINAL_PHASES for p in phases):
            return (f"notification {i}: phases must be a non-empty list of "
                    f"{', '.join(TERMINAL_PHASES)}")
        try:
            check_recipients(n["recipients"], f"notification {i}")
        except ConfigError as exc:
            return str(exc)
    return None


# What carries each kind: all three are e-mails (Flyte sends Slack and PagerDuty
# notifications as mails to those services' e-mail integrations).
CHANNEL_OF_KIND = {"email": "smtp", "slack": "smtp", "pagerduty": "smtp"}
CHANNEL_SETTINGS = {"smtp": "GRAFT_SMTP_URL"}


def undeliverable(notifications: list[dict[str, Any]], channels: Any, where: str
                  ) -> str | None:
    """Why a scheduler with these `channels` ("smtp", "webhook") cannot deliver
    `notifications` (their JSON), naming `where` (the launch plan); None when it can."""
    lacking = {CHANNEL_OF_KIND[n["kind"]] for n in notifications} - set(channels)
    if not lacking:
        return None
    kinds = sorted({n["kind"] for n in notifications if CHANNEL_OF_KIND[n["kind"]] in lacking})
    names = ", ".join({"email": "Email", "slack": "Slack", "pagerduty": "PagerDuty"}[k]
                      for k in kinds)
    settings = " and ".join(CHANNEL_SETTINGS[c] for c in sorted(lacking))
    return (f"{where} has notifications ({names}), which are sent as e-mails, but the "
            f"scheduler has no SMTP server to send them with: set {settings} (and "
            f"GRAFT_SMTP_FROM) in the scheduler's environment (docs/notifications.md)")
