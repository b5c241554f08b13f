"""The worker's lease keeper kills the processes of attempts the scheduler gave up, and only
those: a duplicate copy of a message and a process that moved on are spared."""

import pytest

import worker.leases as leases_mod
from sdk.model.config import Settings


class Superseded:
    """Stands in for the Redis leases: which attempts the scheduler gave up, and a hook that
    runs during the 'round trip'."""

    def __init__(self, gone, during=None):
        self.gone, self.during = set(gone), during

    def superseded(self, keys):
        if self.during is not None:
            self.during()
        return {k for k in keys if k in self.gone}


@pytest.fixture
def killed(monkeypatch):
    out = []
    monkeypatch.setattr(leases_mod.os, "kill", lambda pid, sig: out.append(pid))
    return out


def keeper(gone, during=None):
    k = leases_mod.LeaseKeeper(Settings(broker_url="redis://127.0.0.1:1/0"))
    k.leases = Superseded(gone, during)
    k._start = lambda: None  # no lease thread: the test calls what a tick would
    return k


A, B = ("e1", "slow", 1), ("e2", "other", 1)


def test_a_duplicate_copy_does_not_hide_the_process_running_the_attempt(killed):
    k = keeper({A})
    k.hold(A)
    k.running(A, 100)
    k.hold(A)
    k.running(A, 200)  # a second copy of the message, dropped as a duplicate
    k.drop(A, 200, release=False)
    k._stop_given_up(list(k._pids))
    assert killed == [100]


def test_a_process_that_finished_the_attempt_meanwhile_is_spared(killed):
    def moved_on():
        k.drop(A, 100)
        k.hold(B)
        k.running(B, 100)

    k = keeper({A}, during=moved_on)
    k.hold(A)
    k.running(A, 100)
    k._stop_given_up(list(k._pids))
    assert killed == []
    assert k._pids == {B: {100}}


def test_an_attempt_accepted_after_it_ended_is_not_recorded(killed):
    """Celery may hand on_accepted after on_success for a fast task."""
    k = keeper({A})
    k.hold(A)
    k.drop(A, None)
    k.running(A, 100)
    k._stop_given_up(list(k._pids))
    assert killed == [] and k._pids == {}
