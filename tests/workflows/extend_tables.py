"""Tables with encoders and decoders of the user's (flytekit's StructuredDataset API): numpy
arrays as Parquet, pandas as CSV, nested column subsets."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from typing_extensions import Annotated

from sdk import FlyteContext, StructuredDatasetType, kwtypes, task, workflow
from sdk.models import literals
from sdk.models.literals import StructuredDatasetMetadata
from sdk.types.structured import register_csv_handlers
from sdk.types.structured.structured_dataset import (
    CSV,
    PARQUET,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)

register_csv_handlers()


class NumpyEncodingHandler(StructuredDatasetEncoder):
    def encode(self, ctx: FlyteContext, structured_dataset: StructuredDataset,
               structured_dataset_type: StructuredDatasetType) -> literals.StructuredDataset:
        df = typing.cast(np.ndarray, structured_dataset.dataframe)
        table = pa.Table.from_arrays(list(df), ["col" + str(i) for i in range(len(df))])
        path = ctx.file_access.get_random_remote_directory()
        local_dir = ctx.file_access.get_random_local_directory()
        pq.write_table(table, str(Path(local_dir) / f"{0:05}"))
        ctx.file_access.upload_directory(local_dir, path)
        return literals.StructuredDataset(uri=path, metadata=StructuredDatasetMetadata(
            structured_dataset_type=StructuredDatasetType(format=PARQUET)))


class NumpyDecodingHandler(StructuredDatasetDecoder):
    def decode(self, ctx: FlyteContext, flyte_value: literals.StructuredDataset,
               current_task_metadata: StructuredDatasetMetadata) -> np.ndarray:
        local_dir = ctx.file_access.get_random_local_directory()
        ctx.file_access.get_data(flyte_value.uri, local_dir, is_multipart=True)
        return pq.read_table(local_dir).to_pandas().to_numpy()


StructuredDatasetTransformerEngine.register(NumpyEncodingHandler(np.ndarray, None, PARQUET))
StructuredDatasetTransformerEngine.register(NumpyDecodingHandler(np.ndarray, None, PARQUET))


@task
def names() -> pd.DataFrame:
    return pd.DataFrame({"Name": ["Tom", "Joseph"], "Age": [19, 22]})


@task
def just_names() -> pd.DataFrame:
    return pd.DataFrame({"Name": ["Tom", "Joseph"]})


@task
def to_numpy(sd: StructuredDataset) -> Annotated[StructuredDataset, None, PARQUET]:
    return StructuredDataset(dataframe=sd.open(np.ndarray).all())


@task
def numpy_shape(sd: StructuredDataset) -> typing.List[int]:
    return list(sd.open(np.ndarray).all().shape)


@task
def doubled(arr: np.ndarray) -> np.ndarray:
    """A dataframe type with a decoder and an encoder is a table type, as in flytekit."""
    return arr * 2


@workflow
def numpy_wf() -> typing.Tuple[StructuredDataset, typing.List[int]]:
    sd = to_numpy(sd=just_names())
    return sd, numpy_shape(sd=sd)


@task
def as_csv(df: pd.DataFrame) -> Annotated[StructuredDataset, CSV]:
    return StructuredDataset(dataframe=df)


@task
def ages(sd: Annotated[StructuredDataset, kwtypes(Age=int)]) -> typing.List[int]:
    return [int(a) for a in sd.open(pd.DataFrame).all()["Age"]]


@workflow
def csv_wf() -> typing.Tuple[Annotated[StructuredDataset, CSV], typing.List[int]]:
    sd = as_csv(df=names())
    return sd, ages(sd=sd)


@dataclass
class Contacts:
    email: str
    tel: str


@task
def companies() -> StructuredDataset:
    return StructuredDataset(dataframe=pd.json_normalize([
        {"company": "X", "info": {"boss": "R", "contacts": {"email": "x@x", "tel": "1"}}},
        {"company": "Y", "info": {"boss": "K", "contacts": {"email": "y@y", "tel": "2"}}}],
        max_level=0))


@task
def tels(sd: Annotated[StructuredDataset, kwtypes(info={"contacts": {"tel": str}})]
         ) -> pd.DataFrame:
    return sd.open(pd.DataFrame).all()


@task
def contacts(sd: Annotated[StructuredDataset, kwtypes(info=kwtypes(contacts=Contacts))]
             ) -> typing.List[str]:
    return list(sd.open(pd.DataFrame).all().columns)


@workflow
def nested_wf() -> typing.Tuple[pd.DataFrame, typing.List[str]]:
    sd = companies()
    return tels(sd=sd), contacts(sd=sd)


@task
def from_uri(path: str) -> StructuredDataset:
    """A table given by where its files are (a local folder of Parquet parts)."""
    return StructuredDataset(uri=path, file_format=PARQUET)


@task
def row_count(sd: StructuredDataset) -> int:
    return len(sd.open(pd.DataFrame).all())
