"""`sdk.models.core.types`, as `flytekit.models.core.types`."""

from sdk.values.flyte_types import BlobType, EnumType

__all__ = ["BlobType", "EnumType"]
