"""`Resources(ephemeral_storage=...)`: accepted like flytekit's, validated at decoration like
`mem`, and recorded in the node's requests and limits like `cpu`."""

from __future__ import annotations

import typing

import pytest

from sdk import ConfigError, Resources, task


@task(requests=Resources(cpu="1", mem="100Mi", ephemeral_storage="200Mi"),
      limits=Resources(cpu="2", mem="150Mi", ephemeral_storage="500Mi"))
def count_unique(x: typing.List[int]) -> int:
    return len(set(x))


def test_ephemeral_storage_is_recorded_in_the_spec_and_the_task_runs():
    [node] = count_unique.graph().nodes
    assert node.requests == {"cpu": 1.0, "mem_bytes": 100 * 2**20,
                             "ephemeral_storage_bytes": 200 * 2**20}
    assert node.limits["ephemeral_storage_bytes"] == 500 * 2**20
    assert node.memory_bytes == 150 * 2**20  # the tier is still chosen by memory alone
    assert count_unique(x=[1, 1, 2]) == 2


def test_a_malformed_ephemeral_storage_fails_at_decoration():
    with pytest.raises(ConfigError) as info:
        Resources(ephemeral_storage="lots")
    assert str(info.value).startswith("Resources(ephemeral_storage=...): malformed quantity "
                                      "'lots'")
