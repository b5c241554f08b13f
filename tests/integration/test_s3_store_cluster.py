"""The store on a real S3 API (moto's server): one cluster whose scheduler, workers and clients
reach the bucket by the AWS environment variables runs a workflow of each kind that touches
values — the seed, files and directories, structured datasets, code bundles, caching, logs,
URL inputs — and gives what the in-process runner gives with the same store.

The workers' runners see no AWS credentials in their environment (`worker.environment`): they
read and write the bucket, and read `s3://` inputs, with the storage options each request
carries."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import joblib
import pandas as pd
import pytest
from conftest import S3_BUCKET
from test_bundle import expected, write_project
from workflows import basemodels as bm
from workflows import cached, exposure, faults, files
from workflows.failing import count

from sdk.runtime.loading import load_entity_from_file
from sdk.types import Directory, File, JoblibSerializedFile

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

KNN = Path(__file__).resolve().parents[2] / "examples" / "knn.py"
INPUTS_BUCKET = "graft-it-inputs"


def store_keys(s3_server, store_url: str, folder: str) -> list[str]:
    """The keys under `folder` of the store at `store_url` (an s3:// URL), read with boto3."""
    bucket, _, prefix = store_url.removeprefix("s3://").partition("/")
    pages = s3_server.s3().get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/{folder}/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_the_seed_on_s3_equals_in_process(s3_cluster, s3_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the seed writes its model files to the working directory
    wf = load_entity_from_file(str(KNN), "wf")
    local = wf()
    remote = s3_cluster.client().submit(wf).wait(timeout=180)
    assert remote == local
    assert [row[0] for row in local] == [f"model-k{k}.joblib.dat" for k in range(2, 8)]
    # Values, bundles and logs are in the bucket; nothing fell back to a local folder.
    assert store_keys(s3_server, s3_cluster.store_url, "blobs")
    assert store_keys(s3_server, s3_cluster.store_url, "bundles")
    assert not (s3_cluster.root / "store").exists()
    assert not (s3_cluster.home / "store").exists()


def test_files_directories_and_tables_on_s3(s3_cluster):
    client = s3_cluster.client()
    runs = {"file": client.submit(files.file_wf, text="through the bucket"),
            "dir": client.submit(files.dir_wf, n=4),
            "models": client.submit(files.models_wf, ks=[2, 5]),
            "bundle": client.submit(bm.bundle_wf, text="s3")}
    out = {name: ex.wait(timeout=120) for name, ex in runs.items()}

    text, name, f = out["file"]
    assert (text, name) == files.file_wf(text="through the bucket")[:2]
    with open(f) as fh:  # downloaded from the bucket by this process
        assert fh.read() == "THROUGH THE BUCKET"
    names, size, d = out["dir"]
    assert (names, size) == files.dir_wf(n=4)[:2]
    assert sorted(os.listdir(d)) == ["part-0.txt", "part-1.txt", "part-2.txt", "part-3.txt",
                                     "sub"]
    assert out["models"] == files.models_wf(ks=[2, 5])
    bundle, text = out["bundle"]
    local_bundle, local_text = bm.bundle_wf(text="s3")
    assert text == local_text
    assert bundle.table.open(pd.DataFrame).all().equals(
        local_bundle.table.open(pd.DataFrame).all())


def test_code_bundles_caching_and_logs_on_s3(s3_cluster, s3_server, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    main, _helper = write_project(project, uuid.uuid4().hex[:10])
    proc = s3_cluster.run_cli("run", "--remote", "--wait", str(project / f"{main}.py"), "wf",
                              "--n", "4", "--k", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[1] == repr(expected(4, 2))

    local_dir, remote_dir = tmp_path / "local", tmp_path / "remote"
    want = cached.cached_all(n=3, xs=[1, 2], counter_dir=str(local_dir))
    client = s3_cluster.client()
    first = client.submit(cached.cached_all, n=3, xs=[1, 2], counter_dir=str(remote_dir))
    assert first.wait(timeout=120) == want
    second = client.submit(cached.cached_all, n=3, xs=[1, 2], counter_dir=str(remote_dir))
    assert second.wait(timeout=120) == want
    assert count(str(remote_dir), "slow_square") == count(str(local_dir), "slow_square") == 4
    assert {n.id for n in second.nodes() if n.cached} >= {"slow_square", "cached_total",
                                                         "cached_fan"}
    assert store_keys(s3_server, s3_cluster.store_url, "cache")

    chatty = client.submit(faults.chatty_wf, n=2, pause=0.0)
    assert chatty.wait(timeout=60) == 2
    logs = s3_cluster.run_cli("logs", chatty.id, "chatty", "--json")
    assert logs.returncode == 0, logs.stderr
    [entry] = json.loads(logs.stdout)
    assert entry["stdout"] == "line 0\nline 1\nfrom a child process\n"
    assert [r["message"] for r in entry["records"]] == ["counted 2"]


def test_s3_url_inputs_are_read_with_the_stores_credentials(s3_cluster, s3_server, tmp_path):
    """Inputs at s3:// URLs in another bucket of the same server: the runners, without the
    AWS credentials in their environment, read them with the store's storage options."""
    seen = s3_cluster.client().submit(exposure.environments).wait(timeout=60)
    for env in seen.values():
        assert "AWS_SECRET_ACCESS_KEY" not in env and "AWS_ACCESS_KEY_ID" not in env
        assert not any(s3_server.secret in value for value in env.values())

    s3 = s3_server.s3()
    s3_server.make_bucket(INPUTS_BUCKET)
    s3.put_object(Bucket=INPUTS_BUCKET, Key="hello.txt", Body=b"hello from s3")
    for i in range(3):
        s3.put_object(Bucket=INPUTS_BUCKET, Key=f"data/part-{i}.csv", Body=f"{i}\n".encode())
    joblib.dump([1, 2, 3, 4], tmp_path / "model.joblib")
    s3.put_object(Bucket=INPUTS_BUCKET, Key="model.joblib",
                  Body=(tmp_path / "model.joblib").read_bytes())
    inputs = {"f": File(f"s3://{INPUTS_BUCKET}/hello.txt"),
              "d": Directory(f"s3://{INPUTS_BUCKET}/data/"),
              "m": JoblibSerializedFile(f"s3://{INPUTS_BUCKET}/model.joblib")}
    remote = s3_cluster.client().submit(files.url_inputs, **inputs).wait(timeout=120)
    assert remote == ("hello", "hello from s3", ["part-0.csv", "part-1.csv", "part-2.csv"],
                      10)
    assert files.url_inputs(**inputs) == remote


# ---- the start-up check ---------------------------------------------------------------------

CAUSES = {
    "missing-bucket": ({"GRAFT_STORE": "s3://graft-no-such-bucket/graft"},
                       r"store s3://graft-no-such-bucket/graft: bucket 'graft-no-such-bucket' "
                       r"does not exist"),
    "wrong-credentials": ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"},
                          rf"store s3://{S3_BUCKET}/\S+: bucket '{S3_BUCKET}' refuses access "
                          r"\(.*signature.*\); check the credentials"),
}


@pytest.mark.parametrize("command", [["scheduler"], ["worker", "--tier", "256Mi", "-c", "1"]],
                         ids=["scheduler", "worker"])
@pytest.mark.parametrize("cause", list(CAUSES))
def test_a_store_it_cannot_use_is_one_line_at_start_up(s3_cluster, command, cause):
    env_change, line = CAUSES[cause]
    proc = s3_cluster.run_cli(*command, env={**s3_cluster.env, **env_change}, timeout=60)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert re.fullmatch(r"graft: " + line + r".*", proc.stderr.strip(), re.I), proc.stderr


@pytest.mark.parametrize("cause", list(CAUSES))
def test_a_submit_to_a_store_it_cannot_use_says_why(s3_cluster, s3_server, cause):
    import dataclasses

    from sdk.model.errors import StoreError
    from sdk.remote.client import Client

    env_change, line = CAUSES[cause]
    options = {**s3_server.options(), "skip_instance_cache": True}
    if "AWS_SECRET_ACCESS_KEY" in env_change:
        options["secret"] = env_change["AWS_SECRET_ACCESS_KEY"]
    settings = dataclasses.replace(
        s3_cluster.settings, store_url=env_change.get("GRAFT_STORE", s3_cluster.store_url),
        store_options=options)
    with pytest.raises(StoreError) as info:
        Client(settings).submit(files.file_wf, text="never sent")
    assert re.fullmatch(line + r".*", str(info.value), re.I), str(info.value)


def test_a_store_sees_what_other_processes_wrote_and_deleted(s3_server):
    """s3fs answers listings from a cache of its own: the store must not (the scheduler
    lists submissions other processes wrote; a cache entry is checked for objects)."""
    from sdk.values.store import FsspecStore

    prefix = f"{S3_BUCKET}/seen-{uuid.uuid4().hex[:8]}"
    store = FsspecStore(f"s3://{prefix}", s3_server.options())
    store.put("submissions/one", b"1")
    assert store.keys("submissions") == ["submissions/one"]
    assert not store.exists("submissions/two")
    other = s3_server.s3()  # another process's writes, as far as the store can tell
    other.put_object(Bucket=S3_BUCKET, Key=f"{prefix.partition('/')[2]}/submissions/two",
                     Body=b"2")
    assert store.keys("submissions") == ["submissions/one", "submissions/two"]
    assert store.exists("submissions/two")
    other.delete_object(Bucket=S3_BUCKET, Key=f"{prefix.partition('/')[2]}/submissions/one")
    assert store.keys("submissions") == ["submissions/two"]
    assert not store.exists("submissions/one")
