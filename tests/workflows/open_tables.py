"""Tables opened as numpy arrays, pandas DataFrames and pyarrow Tables."""

from __future__ import annotations

import typing

import numpy as np
import pandas as pd

from sdk import task, workflow
from sdk.types.structured import StructuredDataset


@task
def table() -> StructuredDataset:
    return StructuredDataset(dataframe=pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}))


@task
def as_array(sd: StructuredDataset) -> str:
    arr = sd.open(np.ndarray).all()
    parts = [p.tolist() for p in sd.open(np.ndarray).iter()]
    return f"{type(arr).__name__} {arr.tolist()} {parts}"


@workflow
def numpy_open_wf() -> typing.Tuple[StructuredDataset, str]:
    sd = table()
    return sd, as_array(sd=sd)
