"""`sdk.models`, as `flytekit.models`: only `sdk.models.security` (graft's own model layer is
`sdk.model`)."""
