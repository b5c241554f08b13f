"""`sdk.exceptions.user`, as `flytekit.exceptions.user`: flytekit's user-facing exceptions,
with their builtin bases (`FlyteValueException` is a ValueError, `FlyteAssertion` an
AssertionError, ...). `FlyteRecoverableException` asks for a retry (on a cluster)."""

from sdk.model.flyte_errors import (
    FlyteAssertion,
    FlyteAuthenticationException,
    FlyteCompilationException,
    FlyteDataNotFoundException,
    FlyteEntityAlreadyExistsException,
    FlyteEntityNotExistException,
    FlyteEntityNotFoundException,
    FlyteFailureNodeInputMismatchException,
    FlyteInvalidInputException,
    FlyteMissingReturnValueException,
    FlyteMissingTypeException,
    FlytePromiseAttributeResolveException,
    FlyteRecoverableException,
    FlyteTimeout,
    FlyteTypeException,
    FlyteUserException,
    FlyteValidationException,
    FlyteValueException,
)
from sdk.model.gates import FlyteDisapprovalException  # what a rejected approval gate raises

__all__ = [
    "FlyteUserException", "FlyteTypeException", "FlyteValueException",
    "FlyteDataNotFoundException", "FlyteEntityNotFoundException", "FlyteAssertion",
    "FlyteValidationException", "FlyteFailureNodeInputMismatchException",
    "FlyteDisapprovalException", "FlyteEntityAlreadyExistsException",
    "FlyteEntityNotExistException", "FlyteTimeout", "FlyteRecoverableException",
    "FlyteAuthenticationException", "FlyteInvalidInputException",
    "FlytePromiseAttributeResolveException", "FlyteCompilationException",
    "FlyteMissingTypeException", "FlyteMissingReturnValueException",
]
