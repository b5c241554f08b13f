"""`sdk.extras.tasks`, as `flytekit.extras.tasks`: shell scripts as tasks (`.shell`)."""
