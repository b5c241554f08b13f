"""flytekit's exception classes (`flytekit.exceptions.base` and `.user`), for programs that
raise or catch them: same names, same builtin bases, same messages and error codes.

They are not graft's own errors (`sdk.model.errors`): a task raising one fails like a task
raising anything else. `FlyteRecoverableException` asks for a retry, as in flytekit: on a
cluster a failed attempt is retried up to the task's `retries` (graft retries every exception
so); in-process nothing is retried, as flytekit's local runs do not retry.
"""

from __future__ import annotations

from typing import Any


class TypeTransformerFailedError(TypeError, AssertionError, ValueError):
    """flytekit's error for a value a type transformer cannot convert
    (`flytekit.core.type_engine`), caught as any of its bases. graft's TypeConversionError
    and CompileTypeError are ones."""


class _FlyteCodedExceptionMetaclass(type):
    @property
    def error_code(cls) -> str:
        return cls._ERROR_CODE  # type: ignore[attr-defined, no-any-return]


class FlyteException(Exception, metaclass=_FlyteCodedExceptionMetaclass):
    """The root of flytekit's exceptions; `str()` is `"<error code>: error=<args>"`."""

    _ERROR_CODE = "UnknownFlyteException"

    def __init__(self, *args: Any, timestamp: float | None = None) -> None:
        super().__init__(*args)
        self._timestamp = timestamp

    @property
    def timestamp(self) -> float | None:
        """When it was raised, in fractional seconds since the epoch (when given)."""
        return self._timestamp

    def __str__(self) -> str:
        message = f"error={','.join(str(a) for a in self.args) if self.args else 'None'}"
        if self.__cause__:
            message += f", cause={self.__cause__}"
        return f"{self._ERROR_CODE}: {message}"


class FlyteRecoverableBase(FlyteException):
    """`flytekit.exceptions.base.FlyteRecoverableException`."""

    _ERROR_CODE = "RecoverableFlyteException"


class FlyteUserException(FlyteException):
    _ERROR_CODE = "USER:Unknown"


class FlyteTypeException(FlyteUserException, TypeError):
    _ERROR_CODE = "USER:TypeError"

    def __init__(self, received_type: Any, expected_type: Any, additional_msg: Any = None,
                 received_value: Any = None):
        one_of = " one of" if isinstance(expected_type, (list, tuple, set)) else ""
        value = f" with value: {received_value}" if received_value is not None else ""
        super().__init__(f"Type error!  Received: {received_type}{value}, Expected{one_of}: "
                         f"{expected_type}. {additional_msg or ''}")


class FlyteValueException(FlyteUserException, ValueError):
    _ERROR_CODE = "USER:ValueError"

    def __init__(self, received_value: Any, error_message: Any):
        super().__init__(f"Value error!  Received: {received_value}. {error_message}")


class FlyteDataNotFoundException(FlyteValueException):
    def __init__(self, path: str):
        super().__init__(path, "File not found")


class FlyteEntityNotFoundException(FlyteValueException):
    def __init__(self, module_name: str, entity_name: str):
        self._module_name = module_name
        self._entity_name = entity_name

    def __str__(self) -> str:
        return f"Task/Workflow '{self._entity_name}' not found in module '{self._module_name}'"


class FlyteAssertion(FlyteUserException, AssertionError):
    _ERROR_CODE = "USER:AssertionError"


class FlyteValidationException(FlyteAssertion):
    _ERROR_CODE = "USER:ValidationError"


class FlyteFailureNodeInputMismatchException(FlyteAssertion):
    _ERROR_CODE = "USER:FailureNodeInputMismatch"

    def __init__(self, failure_node_node: Any, workflow: Any):
        self.failure_node_node = failure_node_node
        self.workflow = workflow

    def __str__(self) -> str:
        return (f"Mismatched Inputs Detected\nThe failure node "
                f"`{getattr(self.failure_node_node, 'name', self.failure_node_node)}` has "
                f"inputs that do not align with those expected by the workflow "
                f"`{getattr(self.workflow, 'name', self.workflow)}`.")


class FlyteEntityAlreadyExistsException(FlyteAssertion):
    _ERROR_CODE = "USER:EntityAlreadyExists"


class FlyteEntityNotExistException(FlyteAssertion):
    _ERROR_CODE = "USER:EntityNotExist"


class FlyteTimeout(FlyteAssertion):
    _ERROR_CODE = "USER:Timeout"


class FlyteRecoverableException(FlyteUserException, FlyteRecoverableBase):
    """Raised by a task to ask for another attempt (see the module's docstring)."""

    _ERROR_CODE = "USER:Recoverable"


class FlyteAuthenticationException(FlyteAssertion):
    _ERROR_CODE = "USER:AuthenticationError"


class FlyteInvalidInputException(FlyteUserException):
    _ERROR_CODE = "USER:BadInputToAPI"

    def __init__(self, request: Any):
        self.request = request
        super().__init__()


class FlytePromiseAttributeResolveException(FlyteAssertion):
    _ERROR_CODE = "USER:PromiseAttributeResolveError"


class FlyteCompilationException(FlyteUserException):
    _ERROR_CODE = "USER:CompileError"

    def __init__(self, fn: Any, param_name: str | None = None):
        self.fn = fn
        self.param_name = param_name


class FlyteMissingTypeException(FlyteCompilationException):
    _ERROR_CODE = "USER:MissingTypeError"

    def __str__(self) -> str:
        return (f"'{self.param_name}' has no type. Please add a type annotation to the input "
                f"parameter.")


class FlyteMissingReturnValueException(FlyteCompilationException):
    _ERROR_CODE = "USER:MissingReturnValueError"

    def __str__(self) -> str:
        return (f"{getattr(self.fn, '__name__', self.fn)} function must return a value. Please "
                f"add a return statement at the end of the function.")

