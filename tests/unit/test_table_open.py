"""`StructuredDataset.open(T).all()` gives a T: a pandas DataFrame, a pyarrow Table, or a numpy
array (a row per row) without a decoder of the user's; any other type is an error that says
what graft opens tables as."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from workflows import open_tables as ot

from sdk import TypeConversionError, task
from sdk.types.structured import CSV, StructuredDataset
from sdk.types.structured.structured_dataset import StructuredDatasetTransformerEngine as Engine


@pytest.fixture(autouse=True)
def no_numpy_handlers_of_a_user(monkeypatch):
    """Without the numpy handlers another test module's workflows register."""
    monkeypatch.delitem(Engine.DECODERS, np.ndarray, raising=False)
    monkeypatch.delitem(Engine.ENCODERS, np.ndarray, raising=False)


def test_a_stored_table_opens_as_an_array_a_frame_or_a_table():
    sd, text = ot.numpy_open_wf()
    assert text == "ndarray [[1.0, 0.5], [2.0, 1.5]] [[[1.0, 0.5], [2.0, 1.5]]]"
    arr = sd.open(np.ndarray).all()
    assert isinstance(arr, np.ndarray) and arr.tolist() == [[1.0, 0.5], [2.0, 1.5]]
    assert isinstance(sd.open(pd.DataFrame).all(), pd.DataFrame)
    assert isinstance(sd.open(pa.Table).all(), pa.Table)


def test_a_table_in_memory_and_a_csv_table_open_as_arrays():
    in_memory = StructuredDataset(dataframe=pd.DataFrame({"a": [1, 2]}))
    assert in_memory.open(np.ndarray).all().tolist() == [[1], [2]]

    @task
    def as_csv() -> Annotated[StructuredDataset, CSV]:
        return StructuredDataset(dataframe=pd.DataFrame({"a": [3], "b": ["x"]}))

    assert as_csv().open(np.ndarray).all().tolist() == [[3, "x"]]


def test_another_type_is_a_clear_error():
    sd = ot.table()
    with pytest.raises(TypeConversionError, match=r"no decoder reads a 'parquet' table as "
                                                  r"dict .*graft itself opens a table as a "
                                                  r"pandas DataFrame, a pyarrow Table or a "
                                                  r"numpy ndarray"):
        sd.open(dict).all()
