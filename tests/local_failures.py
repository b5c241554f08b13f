"""What a failed in-process call raised, in the terms of the cluster's `ExecutionFailed`.

In-process a failed workflow raises the failing node's own exception with a note naming the
node, as flytekit's local runs raise the task's exception; on a cluster `Execution.wait()`
raises `ExecutionFailed`. `local_failure` reads the first back as the second says it, so tests
can compare the two."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sdk import ExecutionFailed

_NOTE = re.compile(r"^graft: raised by \w+ '.*?' in node '(?P<node>.*?)' of \w+ '.*?'"
                   r"(?:; it failed the (?P<map>map '(?P<map_id>.*?)': .*?))?"
                   r"(?:; nodes .* failed too)?$", re.DOTALL)


def local_failure(call: Callable[[], Any]) -> tuple[str, str, str]:
    """(node id, error type, message) of the failure `call()` raises, as the first failure
    of the cluster's ExecutionFailed says it (for a map that too many items failed: the map
    node, MapFailed and its message)."""
    try:
        call()
    except ExecutionFailed as exc:
        first = exc.failures[0]
        return first.node_id, first.error_type, first.message
    except Exception as exc:
        found = _NOTE.match(getattr(exc, "__notes__", [""])[-1])
        assert found, f"no graft note on {exc!r}"
        if found["map"]:
            return found["map_id"], "MapFailed", found["map"]
        return found["node"], type(exc).__name__, str(exc)
    raise AssertionError("the call did not fail")
