"""Tasks that are not Python functions (flytekit's): shell scripts (`ShellTask`), SQLite
queries (`SQLite3Task`) and the FlyteSchema tables they return, run in-process
(tests/unit/test_shell_task.py, tests/unit/test_sql_schema.py) and on a cluster
(tests/integration/test_not_python_cluster.py)."""

from __future__ import annotations

import datetime
import os
import sqlite3
import tempfile
import typing
import zipfile
from pathlib import Path

import pandas as pd

from sdk import kwtypes, task, workflow
from sdk.extras.sqlite3.task import SQLite3Config, SQLite3Task
from sdk.extras.tasks.shell import OutputLocation, ShellTask
from sdk.types.directory import FlyteDirectory
from sdk.types.file import FlyteFile
from sdk.types.schema import FlyteSchema

# ---- shell ---------------------------------------------------------------------------------

stamp = ShellTask(
    name="stamp",
    debug=True,
    script="""
    set -e
    echo "{inputs.word} x{inputs.n} at {inputs.when}" > {outputs.out}
    """,
    inputs=kwtypes(word=str, n=int, when=datetime.datetime),
    output_locs=[OutputLocation(var="out", var_type=FlyteFile, location="stamp_{inputs.n}.txt")],
)

# flytesnacks' shell example in small: one script packs its inputs' relative paths, the next
# unpacks them over its own copies of the same inputs.
pack = ShellTask(
    name="pack",
    script="""
    set -e
    echo "{inputs.word}" >> {inputs.notes}
    cp {inputs.notes} {inputs.folder}
    tar -czf {outputs.archive} {inputs.folder}
    """,
    inputs=kwtypes(notes=FlyteFile, folder=FlyteDirectory, word=str),
    output_locs=[OutputLocation(var="archive", var_type=FlyteFile,
                                location="{inputs.folder}.tar.gz")],
)

unpack = ShellTask(
    name="unpack",
    script="""
    set -e
    tar -xzf {inputs.archive}
    mkdir -p {outputs.listing}
    ls {inputs.folder} > {outputs.listing}/names.txt
    cat {inputs.folder}/$(basename {inputs.notes}) > {outputs.listing}/notes.txt
    """,
    inputs=kwtypes(notes=FlyteFile, folder=FlyteDirectory, archive=FlyteFile),
    output_locs=[OutputLocation(var="listing", var_type=FlyteDirectory, location="listing")],
)

count_words = ShellTask(
    name="count_words",
    script_file="shell_scripts/count_words.sh",  # found beside this module, here and on workers
    inputs=kwtypes(text=FlyteFile),
    output_locs=[OutputLocation(var="count", var_type=FlyteFile, location="count.txt")],
)

fails = ShellTask(
    name="fails",
    script="echo partial; echo 'no such thing: {inputs.what}' >&2; exit 3",
    inputs=kwtypes(what=str),
)


@task
def make_inputs() -> typing.Tuple[FlyteFile, FlyteDirectory]:
    import sdk

    workdir = Path(sdk.current_context().working_directory)
    (workdir / "notes.txt").write_text("first\n")
    (workdir / "data").mkdir()
    (workdir / "data" / "keep").write_text("")
    return FlyteFile(str(workdir / "notes.txt")), FlyteDirectory(str(workdir / "data"))


@task
def read_text(f: FlyteFile) -> str:
    with open(f) as fh:
        return fh.read()


@task
def read_listing(d: FlyteDirectory) -> typing.Tuple[str, str]:
    return (Path(d, "names.txt").read_text(), Path(d, "notes.txt").read_text())


@workflow
def stamp_wf(word: str, n: int) -> str:
    return read_text(f=stamp(word=word, n=n, when=datetime.datetime(2024, 1, 2, 3, 4, 5)))


@workflow
def pack_wf(word: str) -> typing.Tuple[str, str]:
    notes, folder = make_inputs()
    archive = pack(notes=notes, folder=folder, word=word)
    return read_listing(d=unpack(notes=notes, folder=folder, archive=archive))


@workflow
def count_wf(text: FlyteFile) -> str:
    return read_text(f=count_words(text=text))


@workflow
def fails_wf(what: str) -> None:
    fails(what=what)


# ---- SQLite --------------------------------------------------------------------------------


def _database() -> Path:
    """A small SQLite database, zipped, made once per machine where this module is imported
    (the test process and the workers alike build the same file)."""
    folder = Path(tempfile.gettempdir()) / "graft-tests"
    target = folder / "tracks-v1.zip"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder))
    db = scratch / "tracks.db"
    with sqlite3.connect(db) as con:
        con.execute("create table tracks (TrackId integer, Name text, Ms real)")
        con.executemany("insert into tracks values (?, ?, ?)",
                        [(i, f"track {i}", i * 1.5) for i in range(1, 8)])
    con.close()
    with zipfile.ZipFile(scratch / "tracks.zip", "w") as zf:
        zf.write(db, "tracks.db")
    os.replace(db, folder / "tracks-v1.db")
    os.replace(scratch / "tracks.zip", target)
    os.rmdir(scratch)
    return target


DATABASE_ZIP = _database()
DATABASE_FILE = DATABASE_ZIP.with_suffix(".db")

tracks = SQLite3Task(
    "tracks",
    query_template="""select TrackId, Name from tracks
                      where TrackId <= {{ .inputs.limit }} and Name != '{{.Inputs.skip}}'""",
    inputs=kwtypes(limit=int, skip=str),
    output_schema_type=FlyteSchema[kwtypes(TrackId=int, Name=str)],
    task_config=SQLite3Config(uri=str(DATABASE_ZIP), compressed=True),
)

all_tracks = SQLite3Task(
    "all_tracks",
    query_template="select * from tracks limit 2",
    task_config=SQLite3Config(uri=DATABASE_FILE.as_uri()),  # a file:// URL, not compressed
)


@task
def total(s: FlyteSchema[kwtypes(TrackId=int)]) -> int:
    frame = s.open().all()
    assert list(frame.columns) == ["TrackId"]  # only the columns this input names
    return int(frame["TrackId"].sum())


@workflow
def tracks_wf(limit: int) -> typing.Tuple[int, FlyteSchema]:
    rows = tracks(limit=limit, skip="track 2")
    return total(s=rows), rows


@workflow
def all_tracks_wf() -> FlyteSchema:
    return all_tracks()


# ---- FlyteSchema -----------------------------------------------------------------------------


@task
def write_schema() -> FlyteSchema[kwtypes(a=int, b=str)]:
    schema = FlyteSchema[kwtypes(a=int, b=str)]()
    writer = schema.open()
    writer.write(pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.1, 0.2]}))
    writer.write(pd.DataFrame({"a": [3], "b": ["z"], "c": [0.3]}))
    return schema


@task
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [5, 6], "b": ["p", "q"]})


@task
def rows(s: FlyteSchema) -> int:
    return len(s.open().all())


@task
def a_sum(s: FlyteSchema[kwtypes(a=int)]) -> int:
    return int(s.open().all()["a"].sum())


@workflow
def schema_wf() -> typing.Tuple[int, int, int, FlyteSchema]:
    s = write_schema()
    return rows(s=s), a_sum(s=s), a_sum(s=frame()), s
