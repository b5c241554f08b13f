"""`sdk.models`, as `flytekit.models`: the literal and type models user code builds
(`sdk.models.literals`, `sdk.models.types`, `sdk.models.core.types`), `sdk.models.security`
and the phases notifications name (`sdk.models.core.execution`); graft's own model layer is
`sdk.model`."""
