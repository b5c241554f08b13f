"""StructuredDataset encoders and decoders (flytekit's API): a user's numpy handlers, the CSV
format, nested column subsets, and the literals graft keeps for them."""

from __future__ import annotations

import importlib
import os
import typing
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typing_extensions import Annotated

from sdk import TypeConversionError, task
from sdk.types.structured.structured_dataset import (
    CSV,
    PARQUET,
    DuplicateHandlerError,
    StructuredDataset,
    StructuredDatasetTransformerEngine,
    kwtypes,
)
from sdk.values.handlers import describe, encode
from sdk.values.store import default_store

tb: Any = None  # workflows.extend_tables, imported by `_tables` once these tests run


@pytest.fixture(autouse=True, scope="module")
def _tables() -> None:
    """Import the handlers' module when these tests run, not when pytest collects them: it
    registers numpy handlers for the whole process (as flytekit's registration does), which
    changes how every later np.ndarray travels, the conformance suite's cases included."""
    global tb
    tb = importlib.import_module("workflows.extend_tables")


def test_a_users_encoder_and_decoder_carry_numpy_arrays():
    sd, shape = tb.numpy_wf()
    assert shape == [1, 2]
    frame = sd.open(pd.DataFrame).all()  # the encoder's Parquet, read by graft's decoder
    assert list(frame.columns) == ["col0", "col1"]
    assert frame.values.tolist() == [["Tom", "Joseph"]]
    assert sd.open(np.ndarray).all().tolist() == [["Tom", "Joseph"]]
    assert sd.literal["format"] == PARQUET and "dir" in sd.literal  # the encoder's folder


def test_a_dataframe_type_with_handlers_is_a_table_type():
    assert describe(np.ndarray) == {"t": "structured", "python": "other",
                                    "ref": "numpy:ndarray", "format": PARQUET}
    out = tb.doubled(arr=np.array([[1, 2], [3, 4]]))
    # the handlers store rows as columns; in and out, the transpositions cancel
    assert isinstance(out, np.ndarray) and out.tolist() == [[2, 4], [6, 8]]


def test_the_csv_format_is_written_and_read_by_the_csv_handlers():
    sd, ages = tb.csv_wf()
    assert ages == [19, 22]
    assert sd.literal["format"] == CSV
    assert list(sd.literal["dir"]["files"]) == [".csv"]
    frame = sd.open(pd.DataFrame).all()
    assert frame.to_dict("list") == {"Name": ["Tom", "Joseph"], "Age": [19, 22]}
    assert describe(Annotated[StructuredDataset, CSV])["format"] == CSV


def test_nested_columns_are_flattened_and_read_as_their_leaves():
    assert describe(Annotated[StructuredDataset, kwtypes(info={"contacts": {"tel": str}})]
                    )["columns"] == {"info.contacts.tel": {"t": "str"}}
    tels, columns = tb.nested_wf()
    assert tels.to_dict("list") == {"tel": ["1", "2"]}
    assert columns == ["email", "tel"]


def test_columns_may_be_given_by_a_dataclass_or_a_dict():
    desc = describe(Annotated[StructuredDataset, tb.Contacts])
    assert desc["columns"] == {"email": {"t": "str"}, "tel": {"t": "str"}}
    assert list(describe(Annotated[StructuredDataset, {"b": int, "a": str}])["columns"]) == \
        ["b", "a"]


def test_a_table_given_by_uri_is_stored_by_content(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(folder / "00000")
    assert tb.row_count(sd=tb.from_uri(path=str(folder))) == 3
    lit = encode(StructuredDataset(uri=str(folder), file_format=PARQUET),
                 describe(StructuredDataset), default_store(), "t")
    assert lit["format"] == PARQUET and list(lit["dir"]["files"]) == ["00000"]
    assert os.path.exists(folder)  # the user's own folder stays


def test_graft_keeps_pandas_tables_as_one_parquet_object():
    lit = encode(pd.DataFrame({"a": [1]}), describe(pd.DataFrame), default_store(), "t")
    assert set(lit) == {"key", "format", "columns"} and lit["columns"] == ["a"]


def test_registering_a_handler_twice_is_refused_unless_overridden():
    handler = tb.NumpyDecodingHandler(np.ndarray, "s3", PARQUET)
    StructuredDatasetTransformerEngine.register(handler)
    with pytest.raises(DuplicateHandlerError, match="Already registered a handler for"):
        StructuredDatasetTransformerEngine.register(handler)
    StructuredDatasetTransformerEngine.register(handler, override=True)
    assert StructuredDatasetTransformerEngine.get_decoder(np.ndarray, "s3", PARQUET) is handler
    # one registered for every protocol finds "file", graft's (the first such registration
    # holds: flytesnacks' structured_dataset example, run by the conformance suite, registers
    # a handler of the same name)
    found = StructuredDatasetTransformerEngine.get_decoder(np.ndarray, "file", PARQUET)
    assert type(found).__name__ == "NumpyDecodingHandler" and found.protocol is None


def test_a_format_without_a_decoder_fails_naming_it():
    @task
    def odd() -> Annotated[StructuredDataset, "avro"]:
        return StructuredDataset(dataframe=pd.DataFrame({"a": [1]}))

    with pytest.raises(TypeConversionError) as info:  # in-process: the node's own error
        odd()
    assert "no encoder writes a DataFrame as a 'avro' table" in str(info.value)


def test_wrong_values_for_tables_are_named():
    @task
    def frame(df: pd.DataFrame) -> int:
        return len(df)

    with pytest.raises(Exception, match="expected DataFrame, got list"):
        frame(df=typing.cast(typing.Any, [1, 2]))
