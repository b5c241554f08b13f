"""Types of the user's, converted by TypeTransformers written against flytekit's API
(`sdk.extend`), and tasks that reach for flytekit's context."""

from __future__ import annotations

import os
import tempfile
import typing
from pathlib import Path

from sdk import (
    Blob,
    BlobMetadata,
    BlobType,
    FlyteContext,
    FlyteContextManager,
    Literal,
    LiteralType,
    Scalar,
    current_context,
    task,
    workflow,
)
from sdk.extend import TypeEngine, TypeTransformer
from sdk.models.literals import Primitive
from sdk.models.types import SimpleType


class Folder:
    """Files in a folder (flytesnacks' MyDataset): a multipart blob."""

    def __init__(self, base_dir: str | None = None):
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="folder-")

    def write(self, name: str, text: str) -> None:
        Path(self.base_dir, name).write_text(text)

    def read(self) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted(Path(self.base_dir).iterdir())}


class FolderTransformer(TypeTransformer[Folder]):
    _TYPE_INFO = BlobType(format="binary", dimensionality=BlobType.BlobDimensionality.MULTIPART)

    def __init__(self) -> None:
        super().__init__(name="folder-transform", t=Folder)

    def get_literal_type(self, t: type[Folder]) -> LiteralType:
        return LiteralType(blob=self._TYPE_INFO)

    def to_literal(self, ctx: FlyteContext, python_val: Folder, python_type: type[Folder],
                   expected: LiteralType) -> Literal:
        remote_dir = ctx.file_access.get_random_remote_directory()
        ctx.file_access.upload_directory(python_val.base_dir, remote_dir)
        return Literal(scalar=Scalar(blob=Blob(uri=remote_dir,
                                               metadata=BlobMetadata(type=self._TYPE_INFO))))

    def to_python_value(self, ctx: FlyteContext, lv: Literal,
                        expected_python_type: type[Folder]) -> Folder:
        local_dir = ctx.file_access.get_random_local_directory()
        ctx.file_access.download_directory(lv.scalar.blob.uri, local_dir)
        return Folder(base_dir=local_dir)


class Money:
    """An amount in cents and a currency: a string primitive "12.50 EUR"."""

    def __init__(self, cents: int, currency: str):
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (
            other.cents, other.currency)

    def __repr__(self) -> str:
        return f"Money({self.cents}, {self.currency!r})"


class MoneyTransformer(TypeTransformer[Money]):
    def __init__(self) -> None:
        super().__init__(name="money", t=Money)

    def get_literal_type(self, t: type[Money]) -> LiteralType:
        return LiteralType(simple=SimpleType.STRING)

    def to_literal(self, ctx: FlyteContext, python_val: Money, python_type: type[Money],
                   expected: LiteralType) -> Literal:
        if python_val.cents < 0:
            raise ValueError("no negative amounts")
        text = f"{python_val.cents // 100}.{python_val.cents % 100:02d} {python_val.currency}"
        return Literal(scalar=Scalar(primitive=Primitive(string_value=text)))

    def to_python_value(self, ctx: FlyteContext, lv: Literal,
                        expected_python_type: type[Money]) -> Money:
        amount, currency = lv.scalar.primitive.string_value.split()
        units, cents = amount.split(".")
        return expected_python_type(int(units) * 100 + int(cents), currency)


class Euro(Money):
    """A subclass: converted by its base class's transformer."""

    def __init__(self, cents: int, currency: str = "EUR"):
        super().__init__(cents, currency)


class Note:
    """One file's text: a single blob whose file the transformer writes."""

    def __init__(self, text: str):
        self.text = text


class NoteTransformer(TypeTransformer[Note]):
    _TYPE = BlobType(format="txt", dimensionality=BlobType.BlobDimensionality.SINGLE)

    def __init__(self) -> None:
        super().__init__(name="note", t=Note)

    def get_literal_type(self, t: type[Note]) -> LiteralType:
        return LiteralType(blob=self._TYPE)

    def to_literal(self, ctx: FlyteContext, python_val: Note, python_type: type[Note],
                   expected: LiteralType) -> Literal:
        local = ctx.file_access.get_random_local_path("note.txt")
        os.makedirs(os.path.dirname(local), exist_ok=True)
        Path(local).write_text(python_val.text)
        remote = ctx.file_access.get_random_remote_path("note.txt")
        ctx.file_access.put_data(local, remote)
        return Literal(scalar=Scalar(blob=Blob(uri=remote, metadata=BlobMetadata(self._TYPE))))

    def to_python_value(self, ctx: FlyteContext, lv: Literal,
                        expected_python_type: type[Note]) -> Note:
        local = ctx.file_access.get_random_local_path("note.txt")
        ctx.file_access.get_data(lv.scalar.blob.uri, local)
        return Note(Path(local).read_text())


TypeEngine.register(FolderTransformer())
TypeEngine.register(MoneyTransformer())
TypeEngine.register(NoteTransformer())


@task
def make_folder(n: int) -> Folder:
    folder = Folder()
    for i in range(n):
        folder.write(f"x{i}", f"contents {i}")
    return folder


@task
def read_folder(folder: Folder) -> str:
    return ";".join(f"{k}={v}" for k, v in folder.read().items())


@workflow
def folder_wf(n: int = 3) -> str:
    return read_folder(folder=make_folder(n=n))


@task(cache=True, cache_version="1")
def count_files(folder: Folder, runs_dir: str) -> int:
    """Cached: keyed by the folder's content. Leaves a file in runs_dir per run."""
    Path(tempfile.mkstemp(dir=runs_dir)[1]).write_text("ran")
    return len(folder.read())


@task
def price(cents: int) -> Money:
    return Money(cents, "EUR")


@task
def prices(cents: typing.List[int]) -> typing.List[Money]:
    return [Euro(c) for c in cents]


@task
def total(amounts: typing.List[Money]) -> Money:
    return Money(sum(m.cents for m in amounts), amounts[0].currency)


@task
def show(m: Money) -> str:
    return f"{type(m).__name__} {m.cents} {m.currency}"


@workflow
def money_wf(cents: typing.List[int]) -> typing.Tuple[str, Money]:
    return show(m=total(amounts=prices(cents=cents))), price(cents=cents[0])


@task
def write_note(text: str) -> Note:
    return Note(text)


@task
def shout(note: Note) -> Note:
    return Note(note.text.upper() + "!")


@workflow
def note_wf(text: str) -> Note:
    return shout(note=write_note(text=text))


@task
def context_facts() -> typing.Dict[str, str]:
    """What a task sees of flytekit's context."""
    ctx = FlyteContextManager.current_context()
    fa = ctx.file_access
    local = fa.get_random_local_directory()
    Path(local, "a.txt").write_text("a")
    remote = fa.get_random_remote_directory()
    fa.upload_directory(local, remote)
    copy = fa.get_random_local_path()
    fa.download_directory(remote, copy)
    return {
        "same_params": str(ctx.user_space_params is current_context()),
        "same_class_method": str(FlyteContext.current_context() is ctx),
        "node": ctx.user_space_params.node_id,
        "local_exists": str(os.path.exists(fa.get_random_local_path("x.txt"))),
        "copied": Path(copy, "a.txt").read_text(),
        "remote_under_prefix": str(remote.startswith(fa.raw_output_prefix)),
        "exists": str(fa.exists(remote)),
        "mode": str(ctx.execution_state.mode.name),
        "sandbox": str(fa.local_sandbox_dir),
    }


@workflow
def context_wf() -> typing.Dict[str, str]:
    return context_facts()
