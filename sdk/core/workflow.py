"""`sdk.core.workflow`, as `flytekit.core.workflow`."""

from sdk.authoring.entities import WorkflowDef, WorkflowFailurePolicy, workflow
from sdk.authoring.imperative import Workflow
from sdk.authoring.reference import ReferenceWorkflow, reference_workflow

ImperativeWorkflow = Workflow
PythonFunctionWorkflow = WorkflowDef

__all__ = ["ImperativeWorkflow", "PythonFunctionWorkflow", "ReferenceWorkflow", "Workflow",
           "WorkflowDef", "WorkflowFailurePolicy", "reference_workflow", "workflow"]
