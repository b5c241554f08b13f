"""pydantic models as task inputs and outputs, with graft's value classes as fields."""

from __future__ import annotations

import datetime
import os
import tempfile
import typing
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from sdk import Cache, task, workflow
from sdk.types.directory import FlyteDirectory
from sdk.types.file import FlyteFile
from sdk.types.structured import StructuredDataset


class Point(BaseModel):
    x: int
    y: float = 0.0


class Shape(BaseModel):
    name: str = Field(alias="label")
    points: List[Point]
    center: Optional[Point] = None
    weights: Dict[int, str] = {}
    made: datetime.datetime = datetime.datetime(2024, 1, 2, 3, 4, 5)

    @field_validator("name")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a shape needs a name")
        return v


class Bundle(BaseModel):
    table: StructuredDataset
    report: FlyteFile
    folder: FlyteDirectory
    extra: Optional[FlyteFile] = None
    notes: List[FlyteFile] = []


class Node(BaseModel):
    value: int
    children: List[Node] = []


def _write(text: str, name: str = "report.txt") -> str:
    path = os.path.join(tempfile.mkdtemp(), name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


@task
def make_shape(n: int) -> Shape:
    return Shape(label=f"shape{n}", points=[Point(x=i, y=i / 2) for i in range(n)],
                 center=Point(x=n), weights={n: "n", 0: "zero"})


@task
def grow(s: Shape, by: int) -> Shape:
    return s.model_copy(update={"points": [*s.points, Point(x=by)]})


@task
def describe_shape(s: Shape) -> str:
    return (f"{s.name} {[p.x for p in s.points]} center={s.center.x if s.center else None} "
            f"weights={sorted(s.weights.items())} made={s.made.isoformat()}")


@task
def plus_one(x: int) -> int:
    return x + 1


@task
def center_x(p: Point) -> int:
    return p.x


@workflow
def shape_wf(n: int = 3) -> typing.Tuple[Shape, str, int, int]:
    s = grow(s=make_shape(n=n), by=10)
    return s, describe_shape(s=s), plus_one(x=s.points[3].x), center_x(p=s.points[1])


@task
def make_bundle(text: str) -> Bundle:
    folder = tempfile.mkdtemp()
    pd.DataFrame({"a": [1, 2]}).to_parquet(os.path.join(folder, "t.parquet"))
    with open(os.path.join(folder, "readme"), "w") as fh:
        fh.write(text)
    return Bundle(table=StructuredDataset(dataframe=pd.DataFrame({"n": [1, 2, 3],
                                                                   "s": ["a", "b", "c"]})),
                  report=FlyteFile(_write(text)), folder=FlyteDirectory(folder),
                  notes=[_write(f"note {i}", f"n{i}.txt") for i in range(2)])


@task
def read_bundle(b: Bundle) -> str:
    df = b.table.open(pd.DataFrame).all()
    arr = b.table.open(np.ndarray).all()
    with open(b.report) as fh:
        report = fh.read()
    notes = [Path(n).read_text() for n in b.notes]
    return (f"{df['n'].tolist()} {type(arr).__name__}{list(arr.shape)} {report} "
            f"{sorted(os.listdir(b.folder))} {b.extra} {notes}")


@workflow
def bundle_wf(text: str = "hello") -> typing.Tuple[Bundle, str]:
    b = make_bundle(text=text)
    return b, read_bundle(b=b)


@task
def tree(depth: int) -> Node:
    node = Node(value=depth)
    for d in range(depth - 1, 0, -1):
        node = Node(value=d, children=[node, Node(value=100 + d)])
    return node


@task
def tree_sum(t: Node) -> int:
    return t.value + sum(tree_sum_of(c) for c in t.children)


def tree_sum_of(t: Node) -> int:
    return t.value + sum(tree_sum_of(c) for c in t.children)


@workflow
def tree_wf(depth: int = 3) -> int:
    return tree_sum(t=tree(depth=depth))


@task
def bad_field() -> Shape:
    s = Shape(label="s", points=[])
    s.points = "not a list"  # no validate_assignment: pydantic lets this through
    return s


@task
def wrong_model() -> Shape:
    return Point(x=1)  # type: ignore[return-value]


class Doc(BaseModel):
    title: str
    body: FlyteFile


@task
def make_doc(text: str) -> Doc:
    return Doc(title="t", body=FlyteFile(_write(text)))  # a new path each time


calls: list[str] = []


@task(cache=Cache(version="1"))
def doc_size(d: Doc) -> int:
    calls.append(d.title)
    return os.path.getsize(d.body)


@workflow
def cached_doc_wf(text: str = "same words") -> int:
    return doc_size(d=make_doc(text=text))
