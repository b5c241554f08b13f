"""`sdk.types.directory`, as `flytekit.types.directory`: the directory type and its Flyte
name."""

from sdk.values.files import Directory

FlyteDirectory = Directory

__all__ = ["Directory", "FlyteDirectory"]
