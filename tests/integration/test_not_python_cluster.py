"""Tasks that are not Python functions on the cluster: shell scripts (ShellTask, with a script
file that the code bundle carries), SQLite queries (SQLite3Task) and FlyteSchema tables run on
the workers, which import them from the code bundles, and give what they give in-process.
On the SQLite state backend only: the backend does not change what a task does."""

from __future__ import annotations

import pytest
from workflows import not_python as np_wf

from sdk import ExecutionFailed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
    pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True),
]


def test_shell_sql_and_schema_tasks_run_on_the_workers_as_in_process(cluster, tmp_path):
    text = tmp_path / "words.txt"
    text.write_text("one two three four\n")
    client = cluster.client()
    runs = {
        "stamp": client.submit(np_wf.stamp_wf, word="hi", n=2),
        "pack": client.submit(np_wf.pack_wf, word="second"),
        "count": client.submit(np_wf.count_wf, text=str(text)),
        "fails": client.submit(np_wf.fails_wf, what="y"),
        "tracks": client.submit(np_wf.tracks_wf, limit=5),
        "all_tracks": client.submit(np_wf.all_tracks_wf),
        "schema": client.submit(np_wf.schema_wf),
    }

    assert runs["stamp"].wait(timeout=180) == np_wf.stamp_wf(word="hi", n=2) == \
        "hi x2 at 2024-01-02T03:04:05\n"
    # each worker gets its own copies of the inputs; the archive unpacks over them
    assert runs["pack"].wait(timeout=180) == np_wf.pack_wf(word="second") == \
        ("keep\nnotes.txt\n", "first\nsecond\n")
    assert runs["count"].wait(timeout=180) == np_wf.count_wf(text=str(text)) == "4\n"

    with pytest.raises(ExecutionFailed) as info:
        runs["fails"].wait(timeout=180)
    [failure] = info.value.failures
    assert failure.error_type == "FlyteRecoverableException"
    assert "Failed to Execute Script, return-code 3" in failure.message
    assert "StdErr: no such thing: y" in failure.message

    total, rows = runs["tracks"].wait(timeout=180)
    local_total, local_rows = np_wf.tracks_wf(limit=5)
    assert total == local_total == 1 + 3 + 4 + 5
    assert rows.open().all().equals(local_rows.open().all())
    assert rows._literal == local_rows._literal  # the same rows, the same stored table

    assert runs["all_tracks"].wait(timeout=180).open().all().to_dict("list") == \
        {"TrackId": [1, 2], "Name": ["track 1", "track 2"], "Ms": [1.5, 3.0]}

    n_rows, a_written, a_frame, schema = runs["schema"].wait(timeout=180)
    assert (n_rows, a_written, a_frame) == (3, 6, 11)
    assert schema.open().all().equals(np_wf.schema_wf()[3].open().all())
