"""`sdk.models.core`, as `flytekit.models.core`."""
