"""graft: Flyte-style workflows run in-process or on Celery workers.

    from sdk import task, workflow, dynamic, map_task, conditional, Resources, Client
    from sdk.types import File, Directory, JoblibSerializedFile, FlyteError

This module only hands on names from the layers below it (`sdk.model`, `sdk.values`,
`sdk.authoring`, `sdk.runtime`, `sdk.remote`); `Client` and `Execution` are imported on first
use, so a script that runs in-process never loads the broker's libraries. flytekit's module
paths have faces under `sdk.core` and `sdk.types`, so porting a Flyte program is renaming
`flytekit` to `sdk`.
"""

from typing import TYPE_CHECKING, Any

import sdk.runtime.local  # noqa: F401  (installs the in-process runner)
from sdk.authoring.caching import Cache, CachePolicy, VersionParameters
from sdk.authoring.conditional import conditional
from sdk.authoring.entities import (
    DynamicDef,
    TaskDef,
    WorkflowDef,
    WorkflowFailurePolicy,
    dynamic,
    task,
    workflow,
)
from sdk.authoring.gate import approve, sleep, wait_for_input
from sdk.authoring.imperative import Workflow
from sdk.authoring.launch_plan import LaunchPlan
from sdk.authoring.map_task import map_task
from sdk.authoring.node import create_node
from sdk.authoring.notification import Email, PagerDuty, Slack, WorkflowExecutionPhase
from sdk.authoring.options import ImageSpec
from sdk.authoring.python_task import PythonInstanceTask, TaskMetadata
from sdk.authoring.reference import reference_launch_plan, reference_task, reference_workflow
from sdk.authoring.schedule import CronSchedule, FixedRate
from sdk.authoring.sql_task import SQLTask
from sdk.core.task import PythonFunctionTask
from sdk.model.errors import (
    BindingError,
    BrokerUnavailable,
    CompileError,
    CompileTypeError,
    ConditionalFailed,
    ConfigError,
    ExecutionAborted,
    ExecutionFailed,
    GraftError,
    NodeFailure,
    ReferenceNotRunnable,
    SpecError,
    StoreError,
    StoreIntegrityError,
    StoreObjectMissing,
    TaskError,
    TaskTimeout,
    TierError,
    TypeConversionError,
)
from sdk.model.gates import FlyteDisapprovalException, GateTimeout, SignalRefused
from sdk.model.hashing import HashMethod
from sdk.model.resources import Resources
from sdk.model.security import Secret
from sdk.runtime.context import current_context
from sdk.runtime.deck import Deck
from sdk.runtime.flyte_context import FlyteContext, FlyteContextManager
from sdk.values.failure import FlyteError
from sdk.values.flyte_literals import Blob, BlobMetadata, Literal, Scalar
from sdk.values.flyte_types import BlobType, LiteralType, StructuredDatasetType
from sdk.values.structured import StructuredDataset, kwtypes
from sdk.values.type_engine import BatchSize
from sdk.wire.signing import Unauthenticated

if TYPE_CHECKING:
    from sdk.remote.client import Client, Execution

__all__ = [
    # authoring
    "task", "workflow", "dynamic", "map_task", "conditional", "create_node", "LaunchPlan",
    "Workflow", "WorkflowFailurePolicy", "Resources", "ImageSpec", "current_context",
    "TaskDef", "DynamicDef", "WorkflowDef", "Cache", "CachePolicy", "VersionParameters",
    "HashMethod", "CronSchedule", "FixedRate", "Secret", "reference_task",
    "reference_launch_plan", "reference_workflow", "Deck", "Email", "Slack", "PagerDuty",
    "WorkflowExecutionPhase",
    "sleep", "wait_for_input", "approve",
    # values
    "StructuredDataset", "kwtypes", "FlyteError", "BatchSize",
    # extending (sdk.extend): task classes, flytekit's context and literal models
    "TaskMetadata", "PythonFunctionTask", "PythonInstanceTask", "FlyteContext",
    "FlyteContextManager", "SQLTask", "Literal", "Scalar", "Blob", "BlobMetadata", "BlobType",
    "LiteralType", "StructuredDatasetType",
    # running on a cluster
    "Client", "Execution",
    # errors
    "GraftError", "CompileError", "BindingError", "CompileTypeError", "SpecError",
    "ConfigError", "TypeConversionError", "ConditionalFailed",
    "StoreError", "StoreObjectMissing", "StoreIntegrityError", "BrokerUnavailable", "TierError",
    "Unauthenticated", "TaskError", "TaskTimeout", "ExecutionFailed", "ExecutionAborted",
    "NodeFailure", "ReferenceNotRunnable", "GateTimeout", "SignalRefused",
    "FlyteDisapprovalException",
]

_LAZY = {"Client": "sdk.remote.client", "Execution": "sdk.remote.client"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sdk' has no attribute {name!r}")
