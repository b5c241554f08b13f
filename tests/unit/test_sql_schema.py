"""`SQLTask`, `SQLite3Task` / `SQLite3Config` (`sdk.extras.sqlite3.task`) and `FlyteSchema`
(`sdk.types.schema`), as flytekit 1.16's: a query templated with `{{ .inputs.x }}`, run on a
(zipped) SQLite file copied from its uri, its rows a FlyteSchema that travels as a table.
What flytekit does was read off runs of the same programs under flytekit 1.16."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
from workflows import not_python as np_wf

from sdk import ExecutionFailed, SQLTask, TypeConversionError, kwtypes, task, workflow
from sdk.core.base_sql_task import SQLTask as CoreSQLTask
from sdk.extras.sqlite3.task import SQLite3Task
from sdk.testing import patch, task_mock
from sdk.types.schema import FlyteSchema, SchemaFormat, SchemaOpenMode
from sdk.types.structured import StructuredDataset
from sdk.values.handlers import describe


def raised(call) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    while isinstance(exc, ExecutionFailed) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


# ---- SQLite3Task ------------------------------------------------------------------------------

def test_a_query_of_a_zipped_database_feeds_a_schema_input(capsys):
    total, rows = np_wf.tracks_wf(limit=4)
    assert total == 1 + 3 + 4
    assert rows.open().all().to_dict("list") == {"TrackId": [1, 3, 4],
                                                 "Name": ["track 1", "track 3", "track 4"]}
    printed = capsys.readouterr().out
    assert "Interpolated query select TrackId, Name from tracks where TrackId <= 4 and " \
           "Name != 'track 2'" in printed


def test_a_database_given_as_a_file_url_uncompressed():
    frame = np_wf.all_tracks_wf().open().all()
    assert frame.to_dict("list") == {"TrackId": [1, 2], "Name": ["track 1", "track 2"],
                                     "Ms": [1.5, 3.0]}


def test_the_task_is_flytekits():
    t = np_wf.tracks
    assert t.task_type == "sqlite"
    assert t.output_columns == ["TrackId", "Name"] and np_wf.all_tracks.output_columns is None
    assert t.query_template == ("select TrackId, Name from tracks where TrackId <= "
                                "{{ .inputs.limit }} and Name != '{{.Inputs.skip}}'")
    assert t.get_custom()["compressed"] is True
    assert list(t.python_interface.outputs) == ["results"]
    with pytest.raises(ValueError, match=r"SQLite DB uri is required\."):
        SQLite3Task("no_db", query_template="select 1")


def test_query_templates_are_checked_when_filled_in():
    assert np_wf.tracks.get_query(limit=2, skip="x") == (
        "select TrackId, Name from tracks where TrackId <= 2 and Name != 'x'")
    with pytest.raises(ValueError, match=r"Variable skip in Query \(part of \{\{.Inputs.skip"
                                         r"\}\}\) not found in inputs"):
        np_wf.tracks.get_query(limit=2)
    with pytest.raises(ValueError, match=r"Extra Inputs have no matches in query template - "
                                         r"missing \{'z'\}"):
        np_wf.tracks.get_query(limit=1, skip="a", z=3)


def test_a_sql_task_is_mocked_and_its_mock_gives_a_schema():
    assert SQLTask is CoreSQLTask
    with task_mock(np_wf.tracks) as mock:
        mock.return_value = pd.DataFrame({"TrackId": [10, 20], "Name": ["a", "b"]})
        total, rows = np_wf.tracks_wf(limit=1)
    assert total == 30 and mock.call_args.kwargs == {"limit": 1, "skip": "track 2"}
    assert isinstance(rows, FlyteSchema)


def test_a_bare_sql_task_cannot_run_and_asks_for_a_mock():
    sql = SQLTask("my-query", query_template="SELECT * FROM t WHERE ds = '{{ .Inputs.ds }}'",
                  inputs=kwtypes(ds=datetime.datetime), outputs=kwtypes(results=FlyteSchema))

    @workflow
    def wf() -> FlyteSchema:
        return sql(ds=datetime.datetime(2024, 1, 1))

    exc = raised(wf)
    assert "Cannot run a SQL Task natively, please mock." in str(exc)

    @patch(sql)
    def check(mock_sql):
        mock_sql.return_value = pd.DataFrame({"x": [1, 2]})
        assert wf().open().all().to_dict("list") == {"x": [1, 2]}

    check()


# ---- FlyteSchema ------------------------------------------------------------------------------

def test_written_parts_travel_and_are_read_by_the_columns_each_side_names():
    n_rows, a_of_written, a_of_frame, schema = np_wf.schema_wf()
    assert (n_rows, a_of_written, a_of_frame) == (3, 6, 11)
    frame = schema.open().all()  # the workflow's output names no columns: all of them
    assert list(frame.columns) == ["a", "b", "c"] and list(frame.index) == [0, 1, 0]
    assert isinstance(schema, FlyteSchema) and schema.supported_mode == SchemaOpenMode.READ
    assert "key" in schema._literal  # one Parquet object, as a StructuredDataset's


def test_a_typed_schema_is_a_subclass_naming_its_columns():
    typed = FlyteSchema[kwtypes(a=int, b=str)]
    assert issubclass(typed, FlyteSchema) and typed.column_names() == ["a", "b"]
    assert typed.format() == SchemaFormat.PARQUET
    assert FlyteSchema[kwtypes()] is FlyteSchema and FlyteSchema[None] is FlyteSchema
    with pytest.raises(AssertionError, match="Columns should be specified as an ordered dict"):
        FlyteSchema[int]
    assert describe(typed) == {"t": "structured", "python": "schema", "format": "parquet",
                               "columns": {"a": {"t": "int"}, "b": {"t": "str"}}}
    with pytest.raises(TypeConversionError, match="is currently not supported by FlyteSchema"):
        @task
        def bad() -> FlyteSchema[kwtypes(a=list)]: ...


def test_a_writer_reads_back_with_override_mode_and_a_reader_cannot_write():
    schema = FlyteSchema[kwtypes(a=int)]()
    schema.open().write(pd.DataFrame({"a": [1], "b": [2]}))
    back = schema.open(override_mode=SchemaOpenMode.READ).all()
    assert back.to_dict("list") == {"a": [1]}
    *_, received = np_wf.schema_wf()
    with pytest.raises(AssertionError, match="Readonly schema cannot be opened in write mode"):
        received.open(override_mode=SchemaOpenMode.WRITE)


def test_schemas_dataframes_and_structured_datasets_feed_each_other():
    @task
    def as_frame(df: pd.DataFrame) -> int:
        return len(df)

    @task
    def as_dataset(sd: StructuredDataset) -> list:
        return list(sd.open(pd.DataFrame).all().columns)

    @workflow
    def wf() -> tuple[int, list]:
        s = np_wf.write_schema()
        return as_frame(df=s), as_dataset(sd=s)

    assert wf() == (3, ["a", "b", "c"])


def test_a_value_that_is_no_table_is_refused():
    @task
    def wrong() -> FlyteSchema:
        return 3  # type: ignore[return-value]

    exc = raised(wrong)
    assert "No automatic conversion found from type int to FlyteSchema" in str(exc)
