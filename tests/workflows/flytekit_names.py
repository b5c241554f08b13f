"""Workflows using more of flytekit's names and options (issue 23, point 12): map task classes,
tables at a path, untyped tasks, resource tuples, cache policies, file options and formats.
Run in-process (tests/unit/test_flytekit_names.py) and on the cluster
(tests/integration/test_flytekit_names_cluster.py)."""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
import typing

import pandas as pd
from typing_extensions import Annotated

from sdk import Cache, LaunchPlan, Resources, dynamic, task, workflow
from sdk.core.array_node import array_node
from sdk.core.array_node_map_task import ArrayNodeMapTask
from sdk.core.cache import VersionParameters
from sdk.core.legacy_map_task import map_task as legacy_map_task
from sdk.types.directory import FlyteDirectory, TensorboardLogs
from sdk.types.file import FileExt, FlyteFile, JPEGImageFile
from sdk.types.structured.structured_dataset import CSV, StructuredDataset

# ---- map task classes ---------------------------------------------------------------------


@task
def affine(x: int, a: int, b: int = 0) -> int:
    return a * x + b


scaled_by_3 = ArrayNodeMapTask(affine, bound_inputs_values={"a": 3})
given_once = ArrayNodeMapTask(affine, bound_inputs={"a"})


@workflow
def bound_values_wf(xs: typing.List[int]) -> typing.List[int]:
    return scaled_by_3(x=xs)


@workflow
def bound_names_wf(xs: typing.List[int], a: int) -> typing.List[int]:
    return given_once(x=xs, a=a)


@workflow
def affine_wf(x: int, a: int = 2) -> int:
    return affine(x=x, a=a, b=100)


affine_lp = LaunchPlan.get_or_create(affine_wf, name="affine_lp", fixed_inputs={"a": 5})


@workflow
def array_node_wf(xs: typing.List[int]) -> typing.List[int]:
    return array_node(affine_lp)(x=xs)


@workflow
def legacy_wf(xs: typing.List[int], bs: typing.List[int]) -> typing.List[int]:
    return legacy_map_task(affine)(x=xs, a=xs, b=bs)


# ---- tables at a path or a URL ------------------------------------------------------------


@task
def write_table(where: str) -> StructuredDataset:
    return StructuredDataset(dataframe=pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), uri=where)


@task
def write_csv_table(where: str) -> Annotated[StructuredDataset, CSV]:
    return StructuredDataset(dataframe=pd.DataFrame({"a": [3, 4]}), uri=where)


@task
def point_at_table(where: str, file_format: str) -> StructuredDataset:
    return StructuredDataset(uri=where, file_format=file_format)


@task
def column_a(sd: StructuredDataset) -> typing.List[int]:
    return sd.open(pd.DataFrame).all()["a"].tolist()


@task
def column_a_at(where: str, file_format: str) -> typing.List[int]:
    return StructuredDataset(uri=where, file_format=file_format).open(pd.DataFrame).all()[
        "a"].tolist()


@workflow
def table_at_wf(parquet_dir: str, csv_dir: str) -> typing.Tuple[typing.List[int],
                                                               typing.List[int],
                                                               typing.List[int]]:
    """Writes a Parquet and a CSV table at the folders given, and reads them back: from the
    tasks' outputs, and again from the folders."""
    written = write_table(where=parquet_dir)
    pointed = point_at_table(where=parquet_dir, file_format="parquet")
    written >> pointed
    csv = write_csv_table(where=csv_dir)
    again = column_a_at(where=csv_dir, file_format="csv")
    csv >> again
    return column_a(sd=written), column_a(sd=pointed), again


# ---- untyped tasks, pickled ---------------------------------------------------------------


class Point:
    """A class no type handler knows: its values are pickled."""

    def __init__(self, x: int):
        self.x = x


@task(pickle_untyped=True)
def make_point(x):  # untyped on purpose
    return Point(x)


@task(pickle_untyped=True)
def point_times(p, k: int):
    return [p.x * k, type(p).__name__]


@workflow(pickle_untyped=True)
def untyped_wf(x, k: int):
    return point_times(p=make_point(x=x), k=k)


@dynamic(pickle_untyped=True)
def untyped_dynamic(x):
    return point_times(p=make_point(x=x), k=10)


# ---- resources as (request, limit) pairs --------------------------------------------------


@task(resources=Resources(cpu=("1", "2"), mem=("100Mi", "600Mi")))
def paired(x: int) -> int:
    return x + 1


@task(resources=Resources(cpu="1", mem="600Mi"))
def requested(x: int) -> int:
    return x + 2


@workflow
def resources_wf(x: int) -> typing.Tuple[int, int, int]:
    return (paired(x=x), requested(x=x),
            paired(x=x).with_overrides(resources=Resources(mem=("50Mi", "200Mi"))))


# ---- cache policies -----------------------------------------------------------------------


class SourceHash:
    """A cache policy: the version follows the task's source (and the salt)."""

    def get_version(self, salt: str, params: VersionParameters) -> str:
        return hashlib.sha256((salt + inspect.getsource(params.func)).encode()).hexdigest()


class ImageName:
    def get_version(self, salt: str, params: VersionParameters) -> str:
        return f"{salt}:{params.container_image}"


RUNS: list[int] = []


@task(cache=Cache(policies=[SourceHash(), ImageName()], salt="v1"), container_image="img:1")
def cached_by_policy(x: int) -> int:
    RUNS.append(x)
    return x * 7


@workflow
def cached_by_policy_wf(x: int) -> int:
    return cached_by_policy(x=x)


# ---- files and folders: remote paths, new remote ones, formats ----------------------------


@task
def put_file(where: str) -> FlyteFile:
    path = os.path.join(tempfile.mkdtemp(), "local.txt")
    with open(path, "w") as fh:
        fh.write("hello")
    return FlyteFile(path, remote_path=where)


@task
def put_dir(where: str) -> FlyteDirectory:
    path = tempfile.mkdtemp()
    os.makedirs(os.path.join(path, "sub"))
    for rel, text in (("a.txt", "A"), ("sub/b.txt", "B")):
        with open(os.path.join(path, rel), "w") as fh:
            fh.write(text)
    return FlyteDirectory(path, remote_directory=where)


@task
def read_file(f: FlyteFile) -> str:
    before = f.downloaded
    with open(f) as fh:
        text = fh.read()
    return f"{text}|{before}|{f.downloaded}|{os.path.basename(f.path)}"


@task
def read_dir(d: FlyteDirectory) -> typing.List[str]:
    return sorted(os.path.relpath(os.path.join(root, name), d.path).replace(os.sep, "/")
                  for root, _, names in os.walk(d) for name in names)


@task
def new_file() -> FlyteFile:
    f = FlyteFile.new_remote_file(name="made.txt")
    with f.open("w") as fh:
        fh.write("made")
    return f


@task
def new_file_at(alt: str) -> FlyteFile:
    f = FlyteFile.new_remote_file(name="elsewhere.txt", alt=alt)
    with f.open("w") as fh:
        fh.write("elsewhere")
    return f


@task
def new_dir() -> FlyteDirectory:
    d = FlyteDirectory.new_remote(stem="made-dir")
    with d.new_file("x.txt").open("w") as fh:
        fh.write("x")
    return d


@workflow
def remote_files_wf(file_at: str, dir_at: str) -> typing.Tuple[str, typing.List[str], str,
                                                               typing.List[str]]:
    return (read_file(f=put_file(where=file_at)), read_dir(d=put_dir(where=dir_at)),
            read_file(f=new_file()), read_dir(d=new_dir()))


tar_gz = typing.Annotated[str, FileExt("tar.gz")]


@task
def image() -> JPEGImageFile:
    path = os.path.join(tempfile.mkdtemp(), "pic.jpeg")
    with open(path, "wb") as fh:
        fh.write(b"\xff\xd8\xff")
    return JPEGImageFile(path)


@task
def logs() -> TensorboardLogs:
    path = tempfile.mkdtemp()
    with open(os.path.join(path, "events.out"), "w") as fh:
        fh.write("e")
    return TensorboardLogs(path)


@task
def formats_seen(pic: FlyteFile[typing.TypeVar("jpeg")], board: TensorboardLogs,
                 anything: FlyteFile) -> typing.List[str]:
    return [type(pic).extension(), board.extension(), type(anything).extension(),
            FlyteFile[tar_gz].extension()]


@workflow
def formats_wf() -> typing.List[str]:
    pic = image()
    return formats_seen(pic=pic, board=logs(), anything=pic)


# ---- node_dependency_hints ----------------------------------------------------------------


@dynamic(node_dependency_hints=[affine, affine_wf, affine_lp])
def hinted(x: int) -> int:
    return affine_lp(x=x)
