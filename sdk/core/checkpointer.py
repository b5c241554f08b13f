"""`sdk.core.checkpointer`, as `flytekit.core.checkpointer`: the checkpoint of a running task
is `current_context().checkpoint`."""

from sdk.runtime.checkpoint import Checkpoint, SyncCheckpoint

__all__ = ["Checkpoint", "SyncCheckpoint"]
