"""The notifier against a real SMTP server (aiosmtpd) and a real HTTP server, both in this
process on free ports: what a mail and a webhook call say, STARTTLS and login, retries while
the server is away (one line when it goes, one when it is back), refusals given up at once,
and the settings."""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil
import time

import pytest
from servers import MailServer, WebhookServer, self_signed_cert

from scheduler import notify
from scheduler.notify import Notifier, NotifyConfig
from scheduler.state import NotificationRecord
from sdk.model.errors import ConfigError

# The test server takes a password without TLS, which aiosmtpd warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(notify, "FIRST_RETRY_S", 0.05)


@pytest.fixture
def mail_server():
    servers: list[MailServer] = []

    def start(**options) -> MailServer:
        server = MailServer(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


LP = "nightly_report_of_every_region"


def _record(seq=0, phase="FAILED", channel="smtp", kind="email",
            recipients=("ops@example.com", "dev@example.com"), error="node halve (halve): "
            "ValueError: 3 is odd", created_at=None) -> NotificationRecord:
    body = {"execution": "e42", "launch_plan": LP, "workflow": "halver",
            "phase": phase, "error": error}
    if channel == "smtp":
        body.update(kind=kind, recipients=list(recipients))
    else:
        body["notifications"] = [{"kind": kind, "phases": [phase],
                                  "recipients": list(recipients)}]
    return NotificationRecord("e42", seq, channel, phase, body,
                              created_at=created_at or time.time())


def _config(env, secret=None) -> NotifyConfig:
    return NotifyConfig.from_env(env, secret=secret)


def _finish(notifier: Notifier, count: int = 1, timeout_s: float = 20.0) -> list:
    done: list = []
    deadline = time.monotonic() + timeout_s
    while len(done) < count and time.monotonic() < deadline:
        done += notifier.done()
        time.sleep(0.02)
    return done


def test_a_mail_names_the_execution_and_phase_and_goes_to_the_recipients(mail_server):
    server = mail_server()
    notifier = Notifier(_config({"GRAFT_SMTP_URL": server.url,
                                 "GRAFT_SMTP_FROM": "graft@ops.example",
                                 "GRAFT_UI_URL": "http://graft.example:8080/"}))
    notifier.committed([_record()])
    notifier.committed([_record()])  # handed twice (a recover): sent once
    assert _finish(notifier) == [("e42", 0, "sent", None)]
    [msg] = server.wait_for(1)
    assert msg.rcpt_tos == ["ops@example.com", "dev@example.com"]
    assert msg.mail_from == "graft@ops.example" and msg["From"] == "graft@ops.example"
    assert msg["To"] == "ops@example.com, dev@example.com"
    # longer than 78 characters: not folded
    assert msg["Subject"] == f'Notice: execution e42 of launch plan "{LP}" has failed'
    assert msg["X-Graft-Execution"] == "e42" and msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_content().replace("\r\n", "\n")
    assert f'Execution e42 of launch plan "{LP}" (workflow "halver") has failed.' in body
    assert "The execution failed with error: [node halve (halve): ValueError: 3 is odd]." \
        in body
    assert "View details at http://graft.example:8080/executions/e42" in body
    assert body.endswith(f'-- sent by graft for launch plan "{LP}": its Email notification '
                         'on FAILED\n')
    time.sleep(0.2)
    assert len(server.messages) == 1
    notifier.close()


def test_slack_and_pagerduty_are_mails_too(mail_server):
    server = mail_server()
    notifier = Notifier(_config({"GRAFT_SMTP_URL": server.url}))
    notifier.committed([_record(0, "SUCCEEDED", kind="slack", recipients=["c@team.slack.com"],
                                error=None),
                        _record(1, "SUCCEEDED", kind="pagerduty",
                                recipients=["svc@pd.example"], error=None)])
    assert sorted(_finish(notifier, 2)) == [("e42", 0, "sent", None), ("e42", 1, "sent", None)]
    subjects = {m.rcpt_tos[0]: m for m in server.wait_for(2)}
    assert subjects["c@team.slack.com"]["Subject"].endswith("has succeeded")
    assert "error" not in subjects["svc@pd.example"].get_content()
    assert "Details: graft status e42" in subjects["svc@pd.example"].get_content()


def test_smtp_down_is_retried_and_said_in_one_line_each_way(mail_server, caplog):
    server = MailServer()  # not started: nothing listens on its port
    notifier = Notifier(_config({"GRAFT_SMTP_URL": server.url}))
    with caplog.at_level(logging.INFO, logger="graft.scheduler.notify"):
        notifier.committed([_record()])
        time.sleep(1.0)  # several tries meanwhile
        assert notifier.done() == []
        server.start()
        try:
            assert _finish(notifier) == [("e42", 0, "sent", None)]
            assert len(server.wait_for(1)) == 1
        finally:
            server.stop()
    lost = [r for r in caplog.records if "lost" in r.getMessage()]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1, [r.getMessage() for r in caplog.records]
    assert f"SMTP server 127.0.0.1:{server.port} lost: ConnectionRefusedError" in \
        lost[0].getMessage()


def test_a_refusal_for_good_gives_up_at_once(mail_server, caplog):
    server = mail_server(refuse={"ops@example.com": "550 no such user",
                                 "dev@example.com": "550 no such user"})
    notifier = Notifier(_config({"GRAFT_SMTP_URL": server.url}))
    notifier.committed([_record()])
    [(eid, seq, state, why)] = _finish(notifier)
    assert (eid, seq, state) == ("e42", 0, "failed")
    assert "every recipient refused: ops@example.com (550 no such user)" in why
    assert server.messages == []
    assert any("notification given up" in r.getMessage() for r in caplog.records)


def test_one_refused_recipient_does_not_stop_the_others(mail_server, caplog):
    server = mail_server(refuse={"dev@example.com": "550 no such user"})
    notifier = Notifier(_config({"GRAFT_SMTP_URL": server.url}))
    notifier.committed([_record()])
    assert _finish(notifier) == [("e42", 0, "sent", None)]
    assert server.wait_for(1)[0].rcpt_tos == ["ops@example.com"]
    assert any("refused some recipients: dev@example.com" in r.getMessage()
               for r in caplog.records)


def test_a_notification_is_given_up_a_day_after_the_end():
    server = MailServer()  # never started
    notifier = Notifier(_config({"GRAFT_SMTP_URL": server.url}))
    notifier.committed([_record(created_at=time.time() - notify.GIVE_UP_S - 1)])
    [(_, _, state, why)] = _finish(notifier)
    assert state == "failed" and "ConnectionRefusedError" in why


def test_login_from_the_url(mail_server):
    server = mail_server(login=("graft", "p@ss:word"))
    url = f"smtp://graft:p%40ss%3Aword@127.0.0.1:{server.port}"
    notifier = Notifier(_config({"GRAFT_SMTP_URL": url}))
    notifier.committed([_record()])
    assert _finish(notifier) == [("e42", 0, "sent", None)]
    assert len(server.wait_for(1)) == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a cert")
def test_starttls_when_offered_and_required(mail_server, tmp_path, monkeypatch):
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # trust the test's certificate
    server = mail_server(tls=(cert, key))
    notifier = Notifier(_config({"GRAFT_SMTP_URL": f"smtp://localhost:{server.port}"}))
    notifier.committed([_record()])
    assert _finish(notifier) == [("e42", 0, "sent", None)]
    assert server.wait_for(1)[0].tls is True

    plain = mail_server()
    strict = Notifier(_config({"GRAFT_SMTP_URL": plain.url, "GRAFT_SMTP_STARTTLS": "require"},
                              ), give_up_s=0.5)
    strict.committed([_record(created_at=time.time())])
    [(_, _, state, why)] = _finish(strict, timeout_s=20)
    assert state == "failed" and "does not offer STARTTLS" in why and plain.messages == []


def test_the_webhook_gets_json_signed_with_the_secret():
    hook = WebhookServer().start()
    try:
        notifier = Notifier(_config({"GRAFT_NOTIFY_WEBHOOK_URL": hook.url,
                                     "GRAFT_UI_URL": "http://ui:8080"}, secret=b"s3cret"))
        notifier.committed([_record(3, channel="webhook")])
        assert _finish(notifier) == [("e42", 3, "sent", None)]
        [call] = hook.requests
        assert call["path"] == "/hook"
        assert call["body"] == {
            "execution": "e42", "launch_plan": LP, "workflow": "halver",
            "phase": "FAILED", "error": "node halve (halve): ValueError: 3 is odd",
            "url": "http://ui:8080/executions/e42",
            "notifications": [{"kind": "email", "phases": ["FAILED"],
                               "recipients": ["ops@example.com", "dev@example.com"]}]}
        expected = hmac.new(b"s3cret", call["raw"], hashlib.sha256).hexdigest()
        assert call["headers"]["X-Graft-Signature"] == f"sha256={expected}"
        assert call["headers"]["Content-Type"] == "application/json"
    finally:
        hook.stop()


def test_a_webhook_4xx_gives_up_and_a_5xx_is_retried():
    hook = WebhookServer(status=404).start()
    try:
        notifier = Notifier(_config({"GRAFT_NOTIFY_WEBHOOK_URL": hook.url}))
        notifier.committed([_record(channel="webhook")])
        [(_, _, state, why)] = _finish(notifier)
        assert state == "failed" and "404" in why
        hook.status = 503
        notifier.committed([_record(1, channel="webhook")])
        time.sleep(0.5)
        assert notifier.done() == []
        hook.status = 200
        assert _finish(notifier) == [("e42", 1, "sent", None)]
    finally:
        hook.stop()


def test_settings():
    assert NotifyConfig.from_env({}).channels == frozenset()
    config = NotifyConfig.from_env({"GRAFT_SMTP_URL": "smtps://me%40x.org:pw@mail.x.org",
                                    "GRAFT_NOTIFY_WEBHOOK_URL": "https://hooks.x.org/graft"})
    assert config.channels == {"smtp", "webhook"}
    smtp = config.smtp
    assert (smtp.host, smtp.port, smtp.user, smtp.password, smtp.implicit_tls) == \
        ("mail.x.org", 465, "me@x.org", "pw", True)
    assert smtp.sender.startswith("graft@")
    assert NotifyConfig.from_env({"GRAFT_SMTP_URL": "smtp://mail.x.org"}).smtp.port == 25
    assert "pw" not in config.describe()
    for env, message in [({"GRAFT_SMTP_URL": "mail.x.org:25"}, "must be smtp://"),
                         ({"GRAFT_SMTP_URL": "smtp://h", "GRAFT_SMTP_STARTTLS": "maybe"},
                          "GRAFT_SMTP_STARTTLS must be one of auto, require, off"),
                         ({"GRAFT_SMTP_URL": "smtp://h", "GRAFT_SMTP_FROM": "graft"},
                          "is not an e-mail address"),
                         ({"GRAFT_NOTIFY_WEBHOOK_URL": "ftp://x"}, "http:// or https://")]:
        with pytest.raises(ConfigError, match=message):
            NotifyConfig.from_env(env)


def test_a_channel_the_scheduler_lacks_leaves_notifications_pending(caplog):
    notifier = Notifier(_config({}))
    notifier.committed([_record(), _record(1)])
    assert notifier.idle(1.0) and notifier.done() == []
    assert len([r for r in caplog.records if "GRAFT_SMTP_URL" in r.getMessage()]) == 1
