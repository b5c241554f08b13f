"""Value types for task signatures, at flytekit's import paths (`flytekit.types` -> `sdk.types`).

    from sdk.types import File, Directory, JoblibSerializedFile, FlyteError
    from sdk.types.structured import StructuredDataset, kwtypes
"""

from sdk.values.failure import FlyteError
from sdk.values.files import Directory, File, JoblibSerializedFile
from sdk.values.structured import StructuredDataset

__all__ = ["Directory", "File", "FlyteError", "JoblibSerializedFile", "StructuredDataset"]
