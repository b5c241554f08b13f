"""`sdk.core.data_persistence`, as `flytekit.core.data_persistence`."""

from sdk.values.file_access import FileAccessProvider

__all__ = ["FileAccessProvider"]
