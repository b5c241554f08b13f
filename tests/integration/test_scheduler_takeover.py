"""Two real schedulers on one broker: the second waits; when the first stalls long enough to
lose its lock and the second takes over, the first stops serving and stands by in turn."""

import math
import os
import signal
import socket

import pytest
from workflows import robust

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


# The lock does not depend on the state backend: one backend is enough.
@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_stalled_scheduler_that_lost_its_lock_stands_by_and_the_other_serves(cluster,
                                                                              wait_for):
    first = cluster.scheduler
    second = cluster._spawn("scheduler", ["scheduler"], "scheduler serving")
    try:
        wait_for(lambda: "another scheduler" in second.log.read_text(errors="replace"), 30,
                 "the second scheduler to wait for the lock")
        assert second.alive() and not second.is_ready()

        # The first stalls (a long pause) past its lock, and the second takes the lock over.
        os.kill(first.pid, signal.SIGSTOP)
        try:
            cluster.redis().delete(f"{cluster.key_prefix}:scheduler:lock")
            wait_for(second.is_ready, 30, "the second scheduler to serve")
        finally:
            os.kill(first.pid, signal.SIGCONT)
        holder = f"{socket.gethostname()}:{second.pid}:".encode()
        assert cluster.redis().get(f"{cluster.key_prefix}:scheduler:lock").startswith(holder)

        # Back from its pause, the first finds the lock taken: it stops serving, stands by,
        # and stays up.
        wait_for(lambda: "stops serving and stands by" in first.log.read_text(errors="replace"),
                 20, "the first scheduler to give the lock up")
        wait_for(lambda: first.log.read_text(errors="replace").count("standing by") >= 1, 20,
                 "the first scheduler to stand by")
        assert first.alive()
        first.stop()
        cluster.scheduler, second = second, None

        # Its release left the second's lock alone, and the second serves.
        assert cluster.redis().get(f"{cluster.key_prefix}:scheduler:lock").startswith(holder)
        remote = cluster.client().submit(robust.odd_floats, x=2.0).wait(timeout=60)
        assert math.isnan(remote[0]) and remote[1:] == [math.inf, -3.0]
        assert cluster.scheduler.alive()
    finally:
        if second is not None:  # failed before the hand-over: back to the first scheduler
            second.kill()
            if not first.reaped:
                first.signal_group(signal.SIGCONT)
            if not first.alive():  # the next test's `cluster` starts a scheduler: unblock it
                cluster.redis().delete(f"{cluster.key_prefix}:scheduler:lock")
