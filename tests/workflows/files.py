"""Files and folders moving between tasks: File, JoblibSerializedFile, Directory."""

import os
import tempfile
import typing

import joblib

from sdk import dynamic, task, workflow
from sdk.types import Directory, File, JoblibSerializedFile


@task
def write_text(text: str, name: str) -> File:
    folder = tempfile.mkdtemp(prefix="graft-test-")
    path = os.path.join(folder, name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


@task
def read_text(f: File) -> str:
    with open(f) as fh:
        return fh.read()


@task
def file_name(f: File) -> str:
    return os.path.basename(str(f))


@task
def upper_file(f: File) -> File:
    with f.open() as fh:
        data = fh.read().upper()
    out = os.path.join(tempfile.mkdtemp(prefix="graft-test-"), "upper-" + os.path.basename(f))
    with open(out, "wb") as fh:
        fh.write(data)
    return File(out)


@workflow
def file_wf(text: str = "hello file") -> (str, str, File):
    """Content and base name read back, and an upper-cased copy returned as a File."""
    f = write_text(text=text, name="greeting.txt")
    return read_text(f=f), file_name(f=f), upper_file(f=f)


@task
def save_model(k: int) -> JoblibSerializedFile:
    name = os.path.join(tempfile.mkdtemp(prefix="graft-test-"), f"model-k{k}.joblib.dat")
    joblib.dump({"k": k, "weights": [k * 0.5] * 3}, name)
    return name


@task
def load_model(m: JoblibSerializedFile) -> str:
    model = joblib.load(m)
    return f"{os.path.basename(str(m))}:{model['k']}:{sum(model['weights'])}"


@dynamic
def load_all(models: list[JoblibSerializedFile]) -> list[str]:
    # The body sees real files: open one to prove it, then fan out.
    assert all(os.path.exists(m) for m in models)
    return [load_model(m=m) for m in models]


@task
def save_models(ks: list[int]) -> list[JoblibSerializedFile]:
    folder = tempfile.mkdtemp(prefix="graft-test-")
    out = []
    for k in ks:
        name = os.path.join(folder, f"model-k{k}.joblib.dat")
        joblib.dump({"k": k, "weights": [k * 0.5] * 3}, name)
        out.append(name)
    return out


@workflow
def models_wf(ks: list[int] = [2, 3]) -> list[str]:  # noqa: B006
    """'model-k2.joblib.dat:2:3.0', 'model-k3.joblib.dat:3:4.5'."""
    return load_all(models=save_models(ks=ks))


@task
def make_dir(n: int) -> Directory:
    root = os.path.join(tempfile.mkdtemp(prefix="graft-test-"), "data")
    os.makedirs(os.path.join(root, "sub"))
    for i in range(n):
        with open(os.path.join(root, f"part-{i}.txt"), "w") as fh:
            fh.write(str(i) * (i + 1))
    with open(os.path.join(root, "sub", "nested.txt"), "w") as fh:
        fh.write("deep")
    return Directory(root)


@task
def list_dir(d: Directory) -> list[str]:
    found = []
    for root, _dirs, names in os.walk(d):
        for name in names:
            found.append(os.path.relpath(os.path.join(root, name), str(d)).replace(os.sep, "/"))
    return sorted(found)


@task
def dir_bytes(d: Directory) -> int:
    return sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(d) for n in ns)


@workflow
def dir_wf(n: int = 3) -> (list[str], int, Directory):
    d = make_dir(n=n)
    return list_dir(d=d), dir_bytes(d=d), d


@task
def head_bytes(f: File, n: int) -> str:
    """Streams the first n bytes (a URL is not downloaded for this)."""
    with f.open() as fh:
        return fh.read(n).decode()


@task
def listing(d: Directory) -> typing.List[str]:
    return sorted(os.listdir(d))


@task
def model_total(m: JoblibSerializedFile) -> int:
    return sum(joblib.load(m))


@workflow
def url_inputs(f: File, d: Directory, m: JoblibSerializedFile
               ) -> typing.Tuple[str, str, typing.List[str], int]:
    """Each kind of file input given as a URL, read by the tasks that use it."""
    return head_bytes(f=f, n=5), read_text(f=f), listing(d=d), model_total(m=m)


@workflow
def read_url(f: File) -> str:
    return read_text(f=f)
