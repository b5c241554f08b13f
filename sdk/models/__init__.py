"""`sdk.models`, as `flytekit.models`: the literal and type models user code builds
(`sdk.models.literals`, `sdk.models.types`, `sdk.models.core.types`) and
`sdk.models.security` (graft's own model layer is `sdk.model`)."""
