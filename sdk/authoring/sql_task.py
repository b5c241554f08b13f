"""SQL queries as tasks, as flytekit's `SQLTask` (`sdk.core.base_sql_task`, `from sdk import
SQLTask`) and `SQLite3Task` (`sdk.extras.sqlite3.task`):

    tracks = SQLite3Task(
        "tracks",
        query_template="select TrackId, Name from tracks limit {{ .inputs.limit }}",
        inputs=kwtypes(limit=int),
        output_schema_type=FlyteSchema[kwtypes(TrackId=int, Name=str)],
        task_config=SQLite3Config(uri="https://.../chinook.zip", compressed=True),
    )

`{{ .inputs.x }}` in the query is input `x` as text. A bare `SQLTask` is a base for task
classes of other databases: run, it raises NotImplementedError, as flytekit's does (a test
replaces it with `sdk.testing.task_mock`). A `SQLite3Task` copies the database file at `uri`
(a path, or any URL fsspec reads) into a scratch folder where it runs, unpacks it when
`compressed` (zip, tar, gztar, bztar, xztar: one file), runs the query with `sqlite3` and
returns the rows as its one output, `results` (a FlyteSchema, or `output_schema_type`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from typing import Any, TypeVar

from sdk.authoring.python_task import Interface, PythonTask, TaskMetadata
from sdk.values.flyte_context import FlyteContextManager
from sdk.values.schema import FlyteSchema

T = TypeVar("T")


class SQLTask(PythonTask[T]):
    """The base of SQL task classes: `query_template` with `{{ .inputs.x }}` placeholders
    (whitespace runs made one space), `inputs` and `outputs` by name."""

    _INPUT_REGEX = re.compile(r"({{\s*.inputs.(\w+)\s*}})", re.IGNORECASE)

    def __init__(self, name: str, query_template: str, task_config: T | None = None,
                 task_type: str = "sql_task", inputs: dict[str, Any] | None = None,
                 metadata: TaskMetadata | None = None, outputs: dict[str, type] | None = None,
                 **kwargs: Any):
        super().__init__(task_type=task_type, name=name,
                         interface=Interface(inputs=inputs or {}, outputs=outputs or {}),
                         metadata=metadata, task_config=task_config, **kwargs)
        self._query_template = re.sub(
            r"\s+", " ", query_template.replace("\n", " ").replace("\t", " ")).strip()

    @property
    def query_template(self) -> str:
        return self._query_template

    def execute(self, **kwargs: Any) -> Any:
        raise NotImplementedError("Cannot run a SQL Task natively, please mock.")

    def get_query(self, **kwargs: Any) -> str:
        return self.interpolate_query(self.query_template, **kwargs)

    @classmethod
    def interpolate_query(cls, query_template: str, **kwargs: Any) -> Any:
        """The query with each `{{ .inputs.x }}` replaced by `str(x)`. ValueError for a
        placeholder without an input, or an input without a placeholder."""
        modified_query = query_template
        matched = set()
        for match in cls._INPUT_REGEX.finditer(query_template):
            expr, var = match.groups()
            if var not in kwargs:
                raise ValueError(f"Variable {var} in Query (part of {expr}) not found in "
                                 f"inputs {kwargs.keys()}")
            matched.add(var)
            modified_query = modified_query.replace(expr, str(kwargs[var]))
        if len(matched) < len(kwargs.keys()):
            diff = set(kwargs.keys()).difference(matched)
            raise ValueError(f"Extra Inputs have no matches in query template - missing {diff}")
        return modified_query


@dataclass
class SQLite3Config:
    """Where the SQLite database file is (`uri`: a path or a URL), and whether it is an
    archive holding it (`compressed`: zip, tar, gztar, bztar or xztar)."""

    uri: str
    compressed: bool = False


def unarchive_file(local_path: str, to_dir: str) -> str:
    """Unpack archive `local_path` under `to_dir`; the one file it held. RuntimeError when it
    held none or several."""
    archive_dir = os.path.join(to_dir, "_arch")
    shutil.unpack_archive(local_path, archive_dir)
    files = os.listdir(archive_dir)
    if not files or len(files) > 1:
        raise RuntimeError(f"Uncompressed archive should contain only one file - found "
                           f"{files}!")
    return os.path.join(archive_dir, files[0])


class SQLite3Task(SQLTask[SQLite3Config]):
    """A query of an SQLite database file (flytekit's), run where the task runs; its output
    `results` is the rows, a FlyteSchema (or `output_schema_type`)."""

    _SQLITE_TASK_TYPE = "sqlite"

    def __init__(self, name: str, query_template: str,
                 inputs: dict[str, Any] | None = None,
                 task_config: SQLite3Config | None = None,
                 output_schema_type: type | None = None, container_image: Any = None,
                 **kwargs: Any):
        if task_config is None or task_config.uri is None:
            raise ValueError("SQLite DB uri is required.")
        outputs = {"results": output_schema_type if output_schema_type else FlyteSchema}
        super().__init__(name=name, task_config=task_config, task_type=self._SQLITE_TASK_TYPE,
                         query_template=query_template, inputs=inputs, outputs=outputs,
                         container_image=container_image, **kwargs)

    @property
    def output_columns(self) -> list[str] | None:
        c = self.python_interface.outputs["results"].column_names()
        return c if c else None

    def get_custom(self, settings: Any = None) -> dict[str, Any]:
        config = self.task_config
        assert config is not None
        return {"query_template": self.query_template, "uri": config.uri,
                "compressed": config.compressed}

    def execute(self, **kwargs: Any) -> Any:
        import pandas as pd

        config = self.task_config
        assert config is not None
        with tempfile.TemporaryDirectory() as temp_dir:
            ctx = FlyteContextManager.current_context()
            local_path = os.path.join(temp_dir, os.path.basename(config.uri.rstrip("/")))
            ctx.file_access.get_data(config.uri, local_path)
            if config.compressed:
                local_path = unarchive_file(local_path, temp_dir)
            print(f"Connecting to db {local_path}")
            interpolated_query = SQLite3Task.interpolate_query(self.query_template, **kwargs)
            print(f"Interpolated query {interpolated_query}")
            with contextlib.closing(sqlite3.connect(local_path)) as con:
                return pd.read_sql_query(interpolated_query, con)
