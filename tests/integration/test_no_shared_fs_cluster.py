"""Workers that share no filesystem with the client and the scheduler: each worker runs in a
mount namespace of its own (`unshare --mount`) with private tmpfs mounts over every folder the
client and the scheduler use (the temporary folder with the tests' folders, the client's
working directory and HOME, the user's cache), and with a HOME, a working directory and a
cache of its own. What a worker gets is a broker URL, a database URL and a store URL with its
credentials (GRAFT_STORE_OPTIONS; the store is on the S3 server). The client submits a
workflow with File and Directory inputs from its own disk, from a module that is not
installed (it reaches the workers only in its code bundle); the results come back right, and
the tasks see none of the client's paths. (The user's real HOME is not hidden, since the Python
that runs the workers may live there, as pyenv's does: the client and the scheduler here run
with a HOME of their own in the hidden temporary folder, and the user's ~/.cache, where graft's
default cache would be, is hidden.)

A hidden dependence on a shared path fails this test: with a local folder as the store, the
workers cannot read what the client put there (every node fails with its inputs missing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import S3_BUCKET, Cluster, _unavailable

from sdk.runtime.loading import load_entity_from_file
from sdk.types import Directory, File

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REDIS_DB = 15
# The worker's own folders, made inside its private /tmp (a tmpfs) after the mounts.
WORKER_ROOT = "/tmp/graft-worker"


def private_mounts(folders: list[str]) -> list[str]:
    """`folders` that exist, without those inside another of them (hidden by its mount)."""
    real = sorted({os.path.realpath(f) for f in folders if os.path.isdir(f)})
    return [f for f in real if not any(f != o and f.startswith(o.rstrip("/") + "/")
                                       for o in real)]


def unshared(folders: list[str]) -> list[str]:
    """A command prefix that runs its arguments in a private mount namespace with an empty
    tmpfs over each of `folders`, in a HOME, working directory and cache of their own."""
    script = textwrap.dedent(f"""\
        set -e
        for folder in {' '.join(repr(f) for f in folders)}; do
            mount -t tmpfs graft-private "$folder"
        done
        mkdir -p {WORKER_ROOT}/home {WORKER_ROOT}/cwd {WORKER_ROOT}/cache
        cd {WORKER_ROOT}/cwd
        exec env HOME={WORKER_ROOT}/home GRAFT_HOME={WORKER_ROOT}/home/graft \\
            GRAFT_CACHE_DIR={WORKER_ROOT}/cache TMPDIR=/tmp "$@"
        """)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def write_project(folder: Path, tag: str) -> str:
    """A workflow module and a helper module it imports, named after `tag`; the module."""
    helper, main = f"noshare_help_{tag}", f"noshare_wf_{tag}"
    (folder / f"{helper}.py").write_text(textwrap.dedent('''
        def shout(text: str) -> str:
            return text.upper() + "!"
        '''))
    (folder / f"{main}.py").write_text(textwrap.dedent(f'''
        import os
        import typing

        from sdk import dynamic, task, workflow
        from sdk.types import Directory, File
        from {helper} import shout


        @task
        def read(f: File) -> str:
            with open(f) as fh:
                return shout(fh.read())


        @task
        def contents(d: Directory) -> typing.List[str]:
            out = []
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name)) as fh:
                    out.append(name + "=" + fh.read())
            return out


        @task
        def seen(paths: typing.List[str]) -> typing.List[str]:
            """Which of `paths` (the client's folders) this task's process can see."""
            return [p for p in paths if os.path.exists(p)]


        @task
        def write(lines: typing.List[str]) -> File:
            with open("joined.txt", "w") as fh:
                fh.write(";".join(lines))
            return File("joined.txt")


        @task
        def lift(text: str) -> str:
            return shout(text)


        @dynamic
        def each(lines: typing.List[str]) -> typing.List[str]:
            return [lift(text=line) for line in lines]


        @workflow
        def wf(f: File, d: Directory, paths: typing.List[str]
               ) -> typing.Tuple[str, typing.List[str], typing.List[str], File]:
            lines = contents(d=d)
            return read(f=f), each(lines=lines), seen(paths=paths), write(lines=lines)
        '''))
    return main


def unshare_works() -> str | None:
    """Why a private mount namespace cannot be made here, or None."""
    if shutil.which("unshare") is None:
        return "unshare is not on PATH (util-linux)"
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           "mount -t tmpfs graft-private /mnt"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"unshare --mount with a tmpfs fails here: {proc.stderr.strip()[:200]}"
    return None


def test_workers_that_share_no_filesystem(redis_server, s3_server, tmp_path_factory,
                                          monkeypatch):
    reason = unshare_works()
    if reason:
        _unavailable(f"cannot run workers in a private mount namespace: {reason}")
    root = tmp_path_factory.mktemp("no-shared-fs")
    client_home, client_cwd = root / "client-home", root / "client-cwd"
    project, data = client_cwd / "project", client_cwd / "data"
    for folder in (client_home, project, data):
        folder.mkdir(parents=True)
    (client_cwd / "note.txt").write_text("from the client's disk")
    for i in range(3):
        (data / f"part-{i}.txt").write_text(str(i) * (i + 1))
    main = write_project(project, uuid.uuid4().hex[:10])

    hidden = private_mounts([tempfile.gettempdir(), str(tmp_path_factory.getbasetemp()),
                             str(client_home), str(client_cwd), os.path.expanduser("~/.cache"),
                             os.path.expanduser("~/.local/share")])
    assert os.path.realpath(client_cwd).startswith(tuple(h + "/" for h in hidden))
    cluster = Cluster("sqlite", root / "cluster", redis_url=redis_server.url, redis_db=REDIS_DB,
                      store_url=f"s3://{S3_BUCKET}/noshare-{uuid.uuid4().hex[:8]}",
                      store_env={"GRAFT_STORE_OPTIONS": json.dumps(s3_server.options())},
                      worker_prefix=unshared(hidden))
    cluster.env["HOME"] = str(cluster.home)
    # This process is the client: its own HOME, working directory and graft folders.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(client_home))
    monkeypatch.setenv("GRAFT_HOME", str(client_home / "graft"))
    monkeypatch.setenv("GRAFT_CACHE_DIR", str(client_home / "cache"))
    monkeypatch.setenv("GRAFT_STORE", cluster.store_url)
    monkeypatch.setenv("GRAFT_STORE_OPTIONS", cluster.env["GRAFT_STORE_OPTIONS"])
    monkeypatch.chdir(client_cwd)
    monkeypatch.delitem(sys.modules, main, raising=False)
    try:
        cluster.start()
        wf = load_entity_from_file(str(project / f"{main}.py"), "wf")
        paths = [str(client_cwd / "note.txt"), str(data), str(project), str(cluster.root),
                 str(client_home)]
        inputs = {"f": File(str(client_cwd / "note.txt")), "d": Directory(str(data)),
                  "paths": paths}
        execution = cluster.client().submit(wf, **inputs)
        text, shouted, seen, joined = execution.wait(timeout=120)
    except BaseException:
        print(cluster.logs_tail())
        raise
    finally:
        cluster.stop()
    assert text == "FROM THE CLIENT'S DISK!"
    assert shouted == ["PART-0.TXT=0!", "PART-1.TXT=11!", "PART-2.TXT=222!"]
    assert seen == []  # the workers' tasks see none of the client's folders
    with open(joined) as fh:
        assert fh.read() == "part-0.txt=0;part-1.txt=11;part-2.txt=222"
    local = wf(**inputs)  # in-process, here: the client sees its own folders
    assert local[:2] == (text, shouted) and local[2] == paths
