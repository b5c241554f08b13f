"""Value types for task signatures, at flytekit's import paths (`flytekit.types` -> `sdk.types`).

    from sdk.types import File, Directory, JoblibSerializedFile
"""

from sdk.values.files import Directory, File, JoblibSerializedFile

__all__ = ["Directory", "File", "JoblibSerializedFile"]
