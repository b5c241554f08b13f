"""`sdk.core.gate`, as `flytekit.core.gate`."""

import datetime

from sdk.authoring.gate import approve, sleep, wait_for_input
from sdk.model.gates import DEFAULT_TIMEOUT_S

DEFAULT_TIMEOUT = datetime.timedelta(seconds=DEFAULT_TIMEOUT_S)  # flytekit's: one hour

__all__ = ["DEFAULT_TIMEOUT", "approve", "sleep", "wait_for_input"]
