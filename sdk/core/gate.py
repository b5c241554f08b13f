"""`sdk.core.gate`, as `flytekit.core.gate`."""

from sdk.authoring.gate import SLEEP_NAME, Gate, approve, sleep, wait_for_input
from sdk.model.gates import DEFAULT_TIMEOUT_S

__all__ = ["DEFAULT_TIMEOUT_S", "SLEEP_NAME", "Gate", "approve", "sleep", "wait_for_input"]
