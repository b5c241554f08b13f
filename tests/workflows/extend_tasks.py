"""Task classes of the user's (flytekit's PythonTask API): an object-store sensor, as in
flytesnacks' user_container example, and a task with several outputs and a default."""

from __future__ import annotations

import typing
from datetime import timedelta

from sdk import PythonInstanceTask, Resources, TaskMetadata, task, workflow
from sdk.extend import Interface, PythonTask, context_manager


class WaitForFile(PythonTask):
    """Waits until a file exists, then returns its path."""

    _VAR_NAME: str = "path"

    def __init__(self, name: str, poll_interval: timedelta = timedelta(seconds=1), **kwargs):
        super().__init__(task_type="object-store-sensor", name=name, task_config=None,
                         interface=Interface(inputs={self._VAR_NAME: str},
                                             outputs={self._VAR_NAME: str}),
                         **kwargs)
        self._poll_interval = poll_interval

    def execute(self, **kwargs) -> typing.Any:
        import time

        path = kwargs[self._VAR_NAME]
        ctx = context_manager.FlyteContext.current_context()
        for _ in range(50):
            ctx.user_space_params.logging.info(f"Sensing file in path {path}...")
            if ctx.file_access.exists(path):
                return path
            time.sleep(self._poll_interval.total_seconds())
        raise TimeoutError(f"{path} never appeared")


sensor = WaitForFile(name="my-objectstore-sensor",
                     metadata=TaskMetadata(retries=2, timeout=timedelta(minutes=20)),
                     poll_interval=timedelta(milliseconds=10))


@task
def read_file(path: str) -> str:
    with open(path) as fh:
        return fh.read()


@workflow
def sensed(path: str) -> str:
    return read_file(path=sensor(path=path))


class Split(PythonInstanceTask[dict]):
    """Splits a string at a separator given in its config; two outputs."""

    def __init__(self, name: str, sep: str, **kwargs):
        super().__init__(name=name, task_config={"sep": sep},
                         interface=Interface(inputs={"text": str, "limit": (int, 5)},
                                             outputs={"head": str, "rest": typing.List[str]}),
                         **kwargs)

    def execute(self, **kwargs) -> typing.Any:
        parts = kwargs["text"].split(self.task_config["sep"])[: kwargs["limit"]]
        return parts[0], parts[1:]

    def post_execute(self, user_params: typing.Any, rval: typing.Any) -> typing.Any:
        head, rest = rval
        return head.upper(), rest


splitter = Split(name="splitter", sep=",", requests=Resources(mem="100Mi"),
                 metadata=TaskMetadata(cache=True, cache_version="1"))


@workflow
def split_wf(text: str) -> typing.Tuple[str, typing.List[str]]:
    head, rest = splitter(text=text)
    return head, rest


class Failing(PythonTask):
    def __init__(self, name: str):
        super().__init__(task_type="failing", name=name, interface=Interface(outputs={"o": int}))

    def execute(self, **kwargs) -> typing.Any:
        raise RuntimeError("execute failed")


failing = Failing("failing")

