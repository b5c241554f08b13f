"""flytekit's `FlyteContext` and `FlyteContextManager`, as far as user code reaches for them.

    ctx = FlyteContextManager.current_context()       # or FlyteContext.current_context()
    ctx.file_access.get_random_local_directory()       # sdk.values.file_access
    ctx.user_space_params                              # the same object as current_context()
    ctx.compilation_state.nodes                        # inside a workflow body: its nodes

A context is a stack: `FlyteContextManager.with_context(ctx.with_file_access(fa))` runs a block
with another file access. The layers above fill in what they own through `provide()`: the
runtime the running attempt (`user_space_params`, `execution_state`), authoring the body being
compiled (`compilation_state`), so this module depends on neither.
"""

from __future__ import annotations

import contextvars
import os
import traceback
from collections.abc import Callable, Generator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from sdk.values.file_access import FileAccessProvider, new_provider, process_sandbox

_PROVIDERS: dict[str, Callable[[], Any]] = {}


def provide(name: str, provider: Callable[[], Any]) -> None:
    """Install what a context answers for `name` ("user_space_params", "execution_state",
    "compilation_state") when it was not built with one."""
    _PROVIDERS[name] = provider


def _provided(name: str) -> Any:
    provider = _PROVIDERS.get(name)
    return provider() if provider is not None else None


class ExecutionState:
    """What is running: `mode` (a task on a worker or in-process), its working directory
    and its `user_space_params`."""

    class Mode(Enum):
        TASK_EXECUTION = 1
        LOCAL_WORKFLOW_EXECUTION = 2
        LOCAL_TASK_EXECUTION = 3
        DYNAMIC_TASK_EXECUTION = 4
        EAGER_EXECUTION = 5
        EAGER_LOCAL_EXECUTION = 6

    def __init__(self, working_dir: str | os.PathLike, mode: Mode | None = None,
                 engine_dir: str | None = None, branch_eval_mode: Any = None,
                 user_space_params: Any = None):
        self.working_dir = working_dir
        self.mode = mode
        self.engine_dir = engine_dir or working_dir
        self.branch_eval_mode = branch_eval_mode
        self.user_space_params = user_space_params

    def is_local_execution(self) -> bool:
        return self.mode in (self.Mode.LOCAL_WORKFLOW_EXECUTION, self.Mode.LOCAL_TASK_EXECUTION,
                             self.Mode.EAGER_LOCAL_EXECUTION)


_UNSET: Any = object()


class FlyteContext:
    """The context user code runs in. Built with `new_builder()` or the `with_*` methods,
    which give a Builder for `FlyteContextManager.with_context`."""

    def __init__(self, file_access: FileAccessProvider, level: int = 0,
                 flyte_client: Any = None, compilation_state: Any = _UNSET,
                 execution_state: Any = _UNSET, serialization_settings: Any = None,
                 in_a_condition: bool = False,
                 origin_stackframe: traceback.FrameSummary | None = None,
                 output_metadata_tracker: Any = None, worker_queue: Any = None):
        self.file_access = file_access
        self.level = level
        self.flyte_client = flyte_client
        self._compilation_state = compilation_state
        self._execution_state = execution_state
        self.serialization_settings = serialization_settings
        self.in_a_condition = in_a_condition
        self.origin_stackframe = origin_stackframe
        self.output_metadata_tracker = output_metadata_tracker
        self.worker_queue = worker_queue

    @property
    def compilation_state(self) -> Any:
        """The workflow or dynamic body being compiled now (its `.nodes`), else None."""
        if self._compilation_state is not _UNSET:
            return self._compilation_state
        return _provided("compilation_state")

    @property
    def execution_state(self) -> ExecutionState | None:
        """The attempt running now, else None."""
        if self._execution_state is not _UNSET:
            return self._execution_state
        return _provided("execution_state")

    @property
    def user_space_params(self) -> Any:
        """What `current_context()` gives: the running attempt's execution parameters."""
        state = self.execution_state
        if state is not None and state.user_space_params is not None:
            return state.user_space_params
        return _provided("user_space_params")

    @staticmethod
    def current_context() -> FlyteContext:
        return FlyteContextManager.current_context()

    def set_stackframe(self, s: traceback.FrameSummary) -> None:
        self.origin_stackframe = s

    def get_origin_stackframe_repr(self) -> str:
        s = self.origin_stackframe
        return f"StackOrigin({s.name}, {s.lineno}, {s.filename})" if s else ""

    def new_builder(self) -> FlyteContext.Builder:
        return FlyteContext.Builder(self)

    def with_file_access(self, fa: FileAccessProvider) -> FlyteContext.Builder:
        return self.new_builder().with_file_access(fa)

    def with_execution_state(self, es: ExecutionState) -> FlyteContext.Builder:
        return self.new_builder().with_execution_state(es)

    def with_compilation_state(self, c: Any) -> FlyteContext.Builder:
        return self.new_builder().with_compilation_state(c)

    def with_serialization_settings(self, ss: Any) -> FlyteContext.Builder:
        return self.new_builder().with_serialization_settings(ss)

    def new_execution_state(self, working_dir: str | os.PathLike | None = None
                            ) -> ExecutionState:
        return ExecutionState(working_dir or self.file_access.local_sandbox_dir,
                              user_space_params=self.user_space_params)

    class Builder:
        """A context to be: change what differs, then `build()` (or hand it to
        `FlyteContextManager.with_context`)."""

        def __init__(self, current: FlyteContext):
            self.file_access = current.file_access
            self.level = current.level + 1
            self.flyte_client = current.flyte_client
            self.compilation_state = current._compilation_state
            self.execution_state = current._execution_state
            self.serialization_settings = current.serialization_settings
            self.in_a_condition = current.in_a_condition
            self.output_metadata_tracker = current.output_metadata_tracker
            self.worker_queue = current.worker_queue

        def build(self) -> FlyteContext:
            return FlyteContext(self.file_access, self.level, self.flyte_client,
                                self.compilation_state, self.execution_state,
                                self.serialization_settings, self.in_a_condition, None,
                                self.output_metadata_tracker, self.worker_queue)

        def with_file_access(self, fa: FileAccessProvider) -> FlyteContext.Builder:
            self.file_access = fa
            return self

        def with_execution_state(self, es: ExecutionState) -> FlyteContext.Builder:
            self.execution_state = es
            return self

        def with_compilation_state(self, c: Any) -> FlyteContext.Builder:
            self.compilation_state = c
            return self

        def with_serialization_settings(self, ss: Any) -> FlyteContext.Builder:
            self.serialization_settings = ss
            return self


_stack: contextvars.ContextVar[tuple[FlyteContext, ...]] = contextvars.ContextVar(
    "graft_flyte_context", default=())
_default: list[tuple[int, FlyteContext]] = []


def default_context() -> FlyteContext:
    """This process's bottom context: file access in its own temporary folder."""
    pid = os.getpid()
    if not _default or _default[0][0] != pid:
        _default[:] = [(pid, FlyteContext(new_provider(process_sandbox())))]
    return _default[0][1]


class FlyteContextManager:
    """The stack of contexts (one per thread and asyncio task)."""

    @staticmethod
    def current_context() -> FlyteContext:
        stack = _stack.get()
        return stack[-1] if stack else default_context()

    @staticmethod
    def push_context(ctx: FlyteContext, f: traceback.FrameSummary | None = None
                     ) -> FlyteContext:
        if f is not None:
            ctx.set_stackframe(f)
        _stack.set((*_stack.get(), ctx))
        return ctx

    @staticmethod
    def pop_context() -> FlyteContext:
        stack = _stack.get()
        if not stack:
            raise AssertionError("there is no pushed FlyteContext to pop")
        _stack.set(stack[:-1])
        return stack[-1]

    @staticmethod
    @contextmanager
    def with_context(b: FlyteContext.Builder | FlyteContext
                     ) -> Generator[FlyteContext, None, None]:
        ctx = b.build() if isinstance(b, FlyteContext.Builder) else b
        token = _stack.set((*_stack.get(), ctx))
        try:
            yield ctx
        finally:
            _stack.reset(token)

    @staticmethod
    def size() -> int:
        return len(_stack.get())

    @staticmethod
    def initialize() -> None:
        """Forget every pushed context."""
        _stack.set(())

    @staticmethod
    def get_origin_stackframe(limit: int = 2) -> traceback.FrameSummary:
        return traceback.extract_stack(limit=limit)[0]

    @staticmethod
    def add_signal_handler(handler: Callable[[int, Any], Any]) -> None:
        """Accepted for flytekit's API; graft's runners handle signals themselves."""
