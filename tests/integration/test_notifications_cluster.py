"""Launch plan notifications on a real cluster: a scheduler with an SMTP server (aiosmtpd, in
this process) and a webhook mails each notification once, for submitted and scheduled
executions alike, and a SIGKILL and restart of the scheduler sends none again; Flyte's own
lp_notifications example returns flytekit's outputs there and mails whom it names. Without an
SMTP server, activating or submitting such a plan is an error the user sees."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest
from conformance import harness
from servers import MailServer, WebhookServer

from sdk import ConfigError, ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FILE = str(Path(__file__).parents[1] / "workflows" / "notify_plans.py")


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def hook():
    server = WebhookServer().start()
    yield server
    server.stop()


def _by_execution(messages) -> dict[str, list]:
    found = collections.defaultdict(list)
    for m in messages:
        found[m["X-Graft-Execution"]].append(m)
    return found


def _unsent(cluster) -> list[tuple]:
    return cluster.query("SELECT execution_id, seq, state FROM graft_notifications "
                         "WHERE state != 'sent'")


def test_each_notification_is_mailed_once_and_a_restart_sends_none_again(
        make_cluster, mail, hook, wait_for):
    from workflows import notify_plans

    cluster = make_cluster(env={"GRAFT_SMTP_URL": mail.url, "GRAFT_SMTP_FROM": "graft@it.example",
                                "GRAFT_NOTIFY_WEBHOOK_URL": hook.url,
                                "GRAFT_UI_URL": "http://graft-ui.example:8080"})
    client = cluster.client()
    ok = client.submit(notify_plans.it_notify, n=8)
    bad = client.submit(notify_plans.it_notify, n=3)
    assert ok.wait(timeout=120) == 4
    with pytest.raises(ExecutionFailed):
        bad.wait(timeout=120)

    # success: the Email (SUCCEEDED, FAILED); failure: the Email and the Slack notification
    mails = _by_execution(mail.wait_for(3))
    [success] = mails[ok.id]
    assert success.rcpt_tos == ["ops@example.com", "lead@example.com"]
    assert success["To"] == "ops@example.com, lead@example.com"
    assert success["From"] == "graft@it.example"
    assert success["Subject"] == f'Notice: execution {ok.id} of launch plan "it_notify" has ' \
                                 f'succeeded'
    body = success.get_content()
    assert f'Execution {ok.id} of launch plan "it_notify" (workflow "halver") has succeeded.' \
        in body
    assert f"View details at http://graft-ui.example:8080/executions/{ok.id}" in body
    failed = {tuple(m.rcpt_tos): m for m in mails[bad.id]}
    assert set(failed) == {("ops@example.com", "lead@example.com"), ("alerts@team.slack.com",)}
    for m in failed.values():
        assert m["Subject"] == f'Notice: execution {bad.id} of launch plan "it_notify" has ' \
                               f'failed'
        assert "The execution failed with error: [node halve (halve): ValueError: 3 is odd" \
            in m.get_content()

    # the webhook: one call per end
    calls = wait_for(lambda: len(hook.requests) >= 2 and hook.requests, 30, "webhook calls")
    by_phase = {c["body"]["phase"]: c["body"] for c in calls}
    assert by_phase["SUCCEEDED"]["execution"] == ok.id
    assert by_phase["FAILED"] == {
        "execution": bad.id, "launch_plan": "it_notify", "workflow": "halver",
        "phase": "FAILED", "error": by_phase["FAILED"]["error"],
        "url": f"http://graft-ui.example:8080/executions/{bad.id}",
        "notifications": [n.to_json() for n in notify_plans.it_notify.notifications]}

    # Marked sent in the database; a SIGKILL and a restart send none of them again.
    wait_for(lambda: cluster.query("SELECT count(*) FROM graft_notifications")[0][0] == 5
             and not _unsent(cluster), 30, "the notifications to be marked sent")
    cluster.kill_scheduler()
    cluster.start_scheduler()
    time.sleep(3)
    assert len(mail.messages) == 3 and len(hook.requests) == 2

    # A scheduled plan's ticks notify too: one mail per execution.
    activated = cluster.run_cli("launchplan", "activate", FILE, "it_notify_every_2s")
    assert activated.returncode == 0, activated.stderr
    try:
        wait_for(lambda: sum(m.rcpt_tos == ["ticks@example.com"] for m in mail.messages) >= 2,
                 60, "mails of two ticks")
    finally:
        stopped = cluster.run_cli("launchplan", "deactivate", "it_notify_every_2s")
    assert stopped.returncode == 0, stopped.stderr
    ticks = [eid for (eid,) in cluster.query(
        "SELECT execution_id FROM graft_schedule_ticks WHERE launch_plan = 'it_notify_every_2s'")]
    for eid in ticks:
        client.get(eid).wait(timeout=60)
    wait_for(lambda: not _unsent(cluster), 30, "the tick notifications to be sent")
    tick_mails = _by_execution(m for m in mail.messages if m.rcpt_tos == ["ticks@example.com"])
    assert sorted(tick_mails) == sorted(ticks)
    assert all(len(ms) == 1 for ms in tick_mails.values())
    assert all(ms[0]["Subject"].endswith('of launch plan "it_notify_every_2s" has succeeded')
               for ms in tick_mails.values())

    # Flyte's own example: flytekit's outputs, and mails to whom its plans name.
    module, _ = harness.load_example("productionizing_lp_notifications")
    recorded = harness.casefmt.load_outputs()["examples"][
        "productionizing_lp_notifications"]["cases"]
    before = len(mail.messages)
    runs = {name: client.submit(getattr(module, name))
            for name in ("int_doubler_wf_lp", "int_doubler_wf_scheduled_lp",
                         "wacky_int_doubler_lp")}
    for name, run in runs.items():
        assert run.wait(timeout=120) == recorded[name]["value"], name
    # int_doubler_wf_lp: Email SUCCEEDED; the scheduled one: PagerDuty on FAILED/TIMED_OUT
    # only; wacky_int_doubler: Email SUCCEEDED to the boss and Slack SUCCEEDED to the team
    new = _by_execution(mail.wait_for(before + 3)[before:])
    assert {tuple(m.rcpt_tos) for m in new[runs["int_doubler_wf_lp"].id]} == {
        ("admin@example.com",)}
    assert runs["int_doubler_wf_scheduled_lp"].id not in new
    assert {tuple(m.rcpt_tos) for m in new[runs["wacky_int_doubler_lp"].id]} == {
        ("myboss@example.com",), ("myteam@slack.com",)}
    time.sleep(1)
    assert len(mail.messages) == before + 3


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_without_smtp_activating_or_submitting_is_an_error_the_user_sees(cluster, wait_for):
    from workflows import notify_plans

    from sdk.wire.keys import Keys

    # The scheduler published that it has no SMTP server: the client refuses at once.
    out = cluster.run_cli("launchplan", "activate", FILE, "it_notify_hourly")
    assert out.returncode == 1
    [line] = out.stderr.strip().splitlines()
    assert "launch plan 'it_notify_hourly' has notifications (Email)" in line
    assert "no SMTP server" in line and "GRAFT_SMTP_URL" in line
    client = cluster.client()
    with pytest.raises(ConfigError, match="no SMTP server"):
        client.submit(notify_plans.it_notify, n=2)
    assert "it_notify_hourly" not in {p["name"] for p in client.launch_plans()}

    # Without that record (Redis emptied since), the scheduler refuses them itself.
    redis, key = cluster.redis(), Keys(cluster.key_prefix).notifiers
    published = redis.get(key)
    redis.delete(key)
    try:
        with pytest.raises(ConfigError, match=r"the scheduler refused to activate launch plan "
                                              r"'it_notify_hourly': .*no SMTP server"):
            client.activate(notify_plans.it_notify_hourly, wait_s=30)
        run = client.submit(notify_plans.it_notify, n=2)
        with pytest.raises(ExecutionFailed, match="no SMTP server to send them with"):
            run.wait(timeout=60)
    finally:
        redis.set(key, published)
    assert "it_notify_hourly" not in {p["name"] for p in client.launch_plans()}
