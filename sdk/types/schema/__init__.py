"""`sdk.types.schema`, as `flytekit.types.schema`: FlyteSchema, flytekit's older table type
(`sdk.values.schema`; StructuredDataset is the newer one).

    from sdk.types.schema import FlyteSchema
    def t(s: FlyteSchema[kwtypes(a=int)]) -> int: return int(s.open().all()["a"].sum())
"""

from sdk.values.schema import (
    FlyteSchema,
    LocalIOSchemaReader,
    LocalIOSchemaWriter,
    SchemaEngine,
    SchemaFormat,
    SchemaHandler,
    SchemaOpenMode,
    SchemaReader,
    SchemaWriter,
)

__all__ = ["FlyteSchema", "LocalIOSchemaReader", "LocalIOSchemaWriter", "SchemaEngine",
           "SchemaFormat", "SchemaHandler", "SchemaOpenMode", "SchemaReader", "SchemaWriter"]
