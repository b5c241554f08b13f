"""`sdk.types.file`, as `flytekit.types.file`: file types and their Flyte names."""

from sdk.values.files import File, JoblibSerializedFile

FlyteFile = File

__all__ = ["File", "FlyteFile", "JoblibSerializedFile"]
