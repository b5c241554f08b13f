"""`sdk.core.workflow`, as `flytekit.core.workflow`."""

from sdk.authoring.entities import WorkflowDef, WorkflowFailurePolicy, workflow
from sdk.authoring.imperative import Workflow

ImperativeWorkflow = Workflow
PythonFunctionWorkflow = WorkflowDef

__all__ = ["ImperativeWorkflow", "PythonFunctionWorkflow", "Workflow", "WorkflowDef",
           "WorkflowFailurePolicy", "workflow"]
