"""`sdk.models.core`, as `flytekit.models.core`: only `sdk.models.core.execution`."""
