"""The notifier: sends launch plan notifications by mail (SMTP) and to a webhook (HTTP), on a
thread of its own, off the scheduler's loop.

`scheduler/notices.py` records what an execution's end fires and hands it here once the
transaction committed (`Notifier.committed`); this thread sends each, and reports it sent (or
given up) through `done()`, which the loop marks in the state. Settings (docs/operations.md):

    GRAFT_SMTP_URL        smtp://[user[:password]@]host[:port]   (port 25; STARTTLS below)
                          smtps://[user[:password]@]host[:port]  (TLS from the start; 465)
    GRAFT_SMTP_FROM       the sender (default graft@<this host's name>)
    GRAFT_SMTP_STARTTLS   auto: when the server offers it, as Flyte's admin does (default);
                          require: refuse to send without it; off: never
    GRAFT_NOTIFY_WEBHOOK_URL   http(s)://...: each notification-firing end is also POSTed
                          there as JSON, signed with GRAFT_SECRET when it is set
    GRAFT_UI_URL          where `graft ui` is reached: messages link the execution's page

Email, Slack and PagerDuty notifications are all mails (as in Flyte: Slack and PagerDuty
take mail at their integration addresses). A send that fails for a reason another try may
not meet (the server unreachable, a 4xx reply, a timeout) is tried again after 1, 2, 4 ...
up to 300 s, and given up a day after the execution ended; the server's loss and return are
one line each. A refusal that will not change (a 5xx reply to the sender or the recipients,
a webhook's 4xx) gives the notification up at once, in one line. The execution is never
affected.
"""

from __future__ import annotations

import email.policy
import hashlib
import heapq
import hmac
import json
import logging
import os
import random
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

from scheduler.notices import Mark
from scheduler.state import NotificationRecord
from sdk.model.errors import ConfigError
from sdk.wire.connections import Outage, redact

log = logging.getLogger("graft.scheduler.notify")

TIMEOUT_S = 10.0  # one connection to the mail server or the webhook
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0
GIVE_UP_S = 24 * 3600.0  # after the execution ended
STARTTLS_MODES = ("auto", "require", "off")
PHASE_WORDS = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ABORTED": "been aborted",
               "TIMED_OUT": "timed out"}
KIND_NAMES = {"email": "Email", "slack": "Slack", "pagerduty": "PagerDuty"}


class Permanent(Exception):
    """A refusal another try would meet again: the notification is given up."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    implicit_tls: bool = False  # smtps://
    starttls: str = "auto"

    @classmethod
    def parse(cls, url: str, sender: str | None, starttls: str | None) -> SmtpConfig:
        """`GRAFT_SMTP_URL` and its companions; ConfigError naming what is wrong."""
        shown = redact(url)
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(f"GRAFT_SMTP_URL {shown!r} must be smtp://[user[:password]@]"
                              f"host[:port] or smtps://...")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ConfigError(f"GRAFT_SMTP_URL {shown!r}: the port is not a number") from None
        mode = (starttls or "auto").strip().lower()
        if mode not in STARTTLS_MODES:
            raise ConfigError(f"GRAFT_SMTP_STARTTLS must be one of {', '.join(STARTTLS_MODES)}, "
                              f"got {starttls!r}")
        sender = (sender or "").strip() or f"graft@{socket.gethostname()}"
        if any(c in sender for c in "\r\n") or "@" not in sender:
            raise ConfigError(f"GRAFT_SMTP_FROM {sender!r} is not an e-mail address")
        return cls(parts.hostname, port, sender,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password is not None else None,
                   parts.scheme == "smtps", mode)

    def describe(self) -> str:
        tls = "TLS" if self.implicit_tls else f"STARTTLS {self.starttls}"
        who = f"{self.user}@" if self.user else ""
        return f"smtp{'s' if self.implicit_tls else ''}://{who}{self.host}:{self.port} ({tls}), " \
               f"from {self.sender}"


@dataclass(frozen=True)
class NotifyConfig:
    """The scheduler's notifiers: SMTP, a webhook, and the graph page to link to."""

    smtp: SmtpConfig | None = None
    webhook_url: str | None = None
    ui_url: str | None = None
    secret: bytes | None = None  # GRAFT_SECRET: signs the webhook's body

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 secret: bytes | None = None) -> NotifyConfig:
        env = os.environ if env is None else env
        smtp_url = env.get("GRAFT_SMTP_URL", "").strip()
        smtp = SmtpConfig.parse(smtp_url, env.get("GRAFT_SMTP_FROM"),
                                env.get("GRAFT_SMTP_STARTTLS")) if smtp_url else None
        webhook = env.get("GRAFT_NOTIFY_WEBHOOK_URL", "").strip() or None
        if webhook is not None and (urlsplit(webhook).scheme not in ("http", "https")
                                    or not urlsplit(webhook).hostname):
            raise ConfigError(f"GRAFT_NOTIFY_WEBHOOK_URL {redact(webhook)!r} must be an "
                              f"http:// or https:// URL")
        ui = env.get("GRAFT_UI_URL", "").strip().rstrip("/") or None
        return cls(smtp, webhook, ui, secret)

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(c for c, on in (("smtp", self.smtp), ("webhook", self.webhook_url))
                         if on)

    def describe(self) -> str:
        parts = [f"SMTP {self.smtp.describe()}" if self.smtp else "no SMTP server "
                 "(launch plans with notifications are refused)"]
        if self.webhook_url:
            parts.append(f"webhook {redact(self.webhook_url)}")
        return "; ".join(parts)


# ---- what a notification says ----------------------------------------------------------------

def link(body: dict[str, Any], ui_url: str | None) -> str | None:
    return f"{ui_url}/executions/{body['execution']}" if ui_url else None


def mail(record: NotificationRecord, config: NotifyConfig) -> EmailMessage:
    """The mail of an SMTP notification."""
    assert config.smtp is not None
    b = record.body
    phase = PHASE_WORDS.get(b["phase"], b["phase"].lower())
    # Long lines are folded only past RFC 5322's limit: folded at 78, a subject naming a
    # quoted plan name came out as "Subject:" and the text on a line of its own.
    msg = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    msg["Subject"] = (f"Notice: execution {b['execution']} of launch plan "
                      f"\"{b['launch_plan']}\" has {phase}")
    msg["From"] = config.smtp.sender
    msg["To"] = ", ".join(b["recipients"])
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid("graft", domain=config.smtp.sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    msg["X-Graft-Execution"] = b["execution"]
    msg["X-Graft-Phase"] = b["phase"]
    lines = [f"Execution {b['execution']} of launch plan \"{b['launch_plan']}\" (workflow "
             f"\"{b['workflow']}\") has {phase}."]
    if b.get("error"):
        lines.append(f"The execution failed with error: [{b['error']}].")
    url = link(b, config.ui_url)
    lines.append(f"View details at {url}" if url else
                 f"Details: graft status {b['execution']}")
    lines += ["", f"-- sent by graft for launch plan \"{b['launch_plan']}\": its "
                  f"{KIND_NAMES.get(b['kind'], b['kind'])} notification on {b['phase']}"]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def webhook_payload(record: NotificationRecord, config: NotifyConfig) -> bytes:
    """The JSON a webhook receives: execution, launch_plan, workflow, phase, error, url and
    the notifications that fired."""
    b = record.body
    return json.dumps({"execution": b["execution"], "launch_plan": b["launch_plan"],
                       "workflow": b["workflow"], "phase": b["phase"], "error": b.get("error"),
                       "url": link(b, config.ui_url),
                       "notifications": b.get("notifications", [])},
                      separators=(",", ":")).encode()


# ---- sending ------------------------------------------------------------------------------------

def send_mail(config: SmtpConfig, message: EmailMessage, recipients: list[str]) -> None:
    """Send `message` to `recipients`; Permanent when the server refuses it for good, any
    other exception when another try may succeed."""
    try:
        if config.implicit_tls:
            server: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=TIMEOUT_S,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT_S)
        with server:
            server.ehlo()
            if not config.implicit_tls and config.starttls != "off":
                if server.has_extn("starttls"):
                    server.starttls(context=ssl.create_default_context())
                    server.ehlo()
                elif config.starttls == "require":
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (GRAFT_SMTP_STARTTLS=require)")
            if config.user:
                server.login(config.user, config.password or "")
            refused = server.send_message(message, from_addr=config.sender,
                                          to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            raise Permanent(f"every recipient refused: {_refusals(exc.recipients)}") from None
        raise
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        if 500 <= exc.smtp_code < 600:
            raise Permanent(f"the server refused the mail: {exc.smtp_code} "
                            f"{_text(exc.smtp_error)}") from None
        raise
    if refused:
        log.warning("notification mail sent, but the server refused some recipients: %s",
                    _refusals(refused))


def post(url: str, payload: bytes, secret: bytes | None) -> None:
    """POST `payload` (JSON) to `url`; Permanent on a 4xx reply (but 408 and 429)."""
    headers = {"Content-Type": "application/json", "User-Agent": "graft-scheduler"}
    if secret:
        digest = hmac.new(secret, payload, hashlib.sha256).hexdigest()
        headers["X-Graft-Signature"] = f"sha256={digest}"
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise Permanent(f"the webhook answered {exc.code} {exc.reason}") from None
        raise


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _refusals(refused: Mapping[str, tuple[int, Any]]) -> str:
    return ", ".join(f"{who} ({code} {_text(why)})" for who, (code, why) in refused.items())


def _why(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


# ---- the thread --------------------------------------------------------------------------------

@dataclass
class _Pending:
    record: NotificationRecord
    tries: int = 0
    generation: int = 0


class Notifier:
    """Sends notifications on a thread of its own (`scheduler.notices.Deliveries`)."""

    def __init__(self, config: NotifyConfig, *, clock: Callable[[], float] = time.time,
                 sender: Callable[[SmtpConfig, EmailMessage, list[str]], None] = send_mail,
                 poster: Callable[[str, bytes, bytes | None], None] = post,
                 give_up_s: float = GIVE_UP_S):
        self.config = config
        self.channels = config.channels
        self.clock = clock
        self._send_mail, self._post, self.give_up_s = sender, poster, give_up_s
        self._lock = threading.Condition()
        self._due: list[tuple[float, int, tuple[str, int]]] = []  # (when, order, key)
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._done: list[Mark] = []
        self._order = 0
        self._generation = 0
        self._closed = False
        self._unconfigured: set[str] = set()  # channels said to be missing, once each
        self._outages: dict[str, Outage] = {}
        self._thread: threading.Thread | None = None

    # ---- what the scheduler calls (its loop's thread) --------------------------------------

    def committed(self, records: list[NotificationRecord]) -> None:
        with self._lock:
            for record in records:
                if record.key in self._pending:
                    continue
                if record.channel not in self.channels:
                    self._say_unconfigured(record.channel)
                    continue
                self._pending[record.key] = _Pending(record, generation=self._generation)
                self._schedule(record.key, 0.0)
            self._lock.notify()
        self._start()

    def done(self) -> list[Mark]:
        with self._lock:
            done, self._done = self._done, []
        return done

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._due.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()

    def idle(self, timeout_s: float) -> bool:
        """Whether nothing is left to send within `timeout_s` seconds."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    # ---- the thread -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="graft-notify", daemon=True)
            self._thread.start()

    def _schedule(self, key: tuple[str, int], delay_s: float) -> None:
        self._order += 1
        heapq.heappush(self._due, (time.monotonic() + delay_s, self._order, key))

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closed and (not self._due
                                            or self._due[0][0] > time.monotonic()):
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._lock.wait(wait)
                if self._closed:
                    return
                _, _, key = heapq.heappop(self._due)
                item = self._pending.get(key)
                if item is None:
                    continue
            try:
                self._deliver(item.record)
            except Exception as exc:
                self._failed(item, exc)
            else:
                self._finished(item, "sent", None)
                self._outage(item.record.channel).back()
                log.info("notification sent: %s", self._what(item.record))

    def _deliver(self, record: NotificationRecord) -> None:
        if record.channel == "smtp":
            assert self.config.smtp is not None
            self._send_mail(self.config.smtp, mail(record, self.config),
                            list(record.body["recipients"]))
        else:
            assert self.config.webhook_url is not None
            self._post(self.config.webhook_url, webhook_payload(record, self.config),
                       self.config.secret)

    def _failed(self, item: _Pending, exc: Exception) -> None:
        record = item.record
        if isinstance(exc, Permanent):
            log.error("notification given up: %s: %s", self._what(record), exc)
            self._finished(item, "failed", str(exc))
            return
        if self.clock() - record.created_at > self.give_up_s:
            log.error("notification given up after %d tries over %g h: %s: %s", item.tries + 1,
                      self.give_up_s / 3600, self._what(record), _why(exc))
            self._finished(item, "failed", _why(exc))
            return
        self._outage(record.channel).lost(_why(exc))
        item.tries += 1
        delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (item.tries - 1))
        with self._lock:
            if self._pending.get(record.key) is item and item.generation == self._generation:
                self._schedule(record.key, delay * random.uniform(0.8, 1.2))

    def _finished(self, item: _Pending, state: str, error: str | None) -> None:
        with self._lock:
            self._done.append((item.record.execution_id, item.record.seq, state, error))
            if self._pending.get(item.record.key) is item:
                del self._pending[item.record.key]

    def _outage(self, channel: str) -> Outage:
        if channel not in self._outages:
            what = (f"SMTP server {self.config.smtp.host}:{self.config.smtp.port}"
                    if channel == "smtp" and self.config.smtp else
                    f"notification webhook {redact(self.config.webhook_url or '')}")
            self._outages[channel] = Outage(log, what, "notifications wait and are retried")
        return self._outages[channel]

    def _say_unconfigured(self, channel: str) -> None:
        if channel not in self._unconfigured:
            self._unconfigured.add(channel)
            setting = "GRAFT_SMTP_URL" if channel == "smtp" else "GRAFT_NOTIFY_WEBHOOK_URL"
            log.error("notifications wait for a %s channel this scheduler does not have: set "
                      "%s; they stay pending in the database until a scheduler that has "
                      "one sends them", channel, setting)

    @staticmethod
    def _what(record: NotificationRecord) -> str:
        b = record.body
        to = (f"{KIND_NAMES.get(b.get('kind'), b.get('kind'))} to "
              f"{', '.join(b['recipients'])}" if record.channel == "smtp" else "webhook")
        return f"{to} (execution {record.execution_id} {record.phase})"
