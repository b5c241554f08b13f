"""flytekit's `flytekit.core` module paths, as faces that hand names on from graft's layers."""
