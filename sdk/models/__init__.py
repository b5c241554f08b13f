"""`sdk.models`, as `flytekit.models`: only `sdk.models.security` and
`sdk.models.core.execution` (graft's own model layer is `sdk.model`)."""
