"""`sdk.models.core`, as `flytekit.models.core` (`types`, and `execution`'s
WorkflowExecutionPhase)."""
