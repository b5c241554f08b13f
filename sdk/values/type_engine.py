"""flytekit's `TypeEngine` and `TypeTransformer`: extending the type system with a user type.

    class MyTransformer(TypeTransformer[MyType]):
        def __init__(self):
            super().__init__(name="my-transformer", t=MyType)
        def get_literal_type(self, t): return LiteralType(blob=BlobType(...))
        def to_literal(self, ctx, python_val, python_type, expected): return Literal(...)
        def to_python_value(self, ctx, lv, expected_python_type): return MyType(...)

    TypeEngine.register(MyTransformer())

A registered transformer is graft's handler for its type (and its subclasses): values of it are
converted by its `to_literal` and `to_python_value`, in-process and on the workers alike (which
import the module that registers it when they import the task's module).
`sdk.values.transformer_handler` is the bridge between flytekit's literals and graft's.

The engine also holds transformers of graft's own for the types a transformer commonly
converts its parts with (`TypeEngine.to_literal(ctx, 3, int, ...)` gives
`Literal(scalar=Scalar(primitive=Primitive(integer=3)))`; see `sdk.values.builtin_transformers`);
graft's own conversion does not go through them.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import threading
import types
import typing
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

from sdk.model.flyte_errors import TypeTransformerFailedError
from sdk.values.flyte_literals import Literal, LiteralMap
from sdk.values.flyte_types import LiteralType

T = TypeVar("T")


class BatchSize:
    """`Annotated[List[T], BatchSize(n)]`, for a T graft pickles (a class no handler
    converts, or `Any`): the items are pickled `n` to a store object rather than one each
    (`sdk.values.pickled`), as flytekit 1.6 to 1.13 did; flytekit 1.14 and later accept the
    annotation there and pickle each item alone. Elsewhere (flytekit's `FlyteDirectory`
    transfers) graft accepts it and does nothing with it."""

    def __init__(self, val: int):
        self._val = val

    @property
    def val(self) -> int:
        return self._val




def run_sync(result: Any) -> Any:
    """`result`, awaited when it is a coroutine (in a thread of its own when this thread
    already runs an event loop)."""
    if not inspect.iscoroutine(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(result)
    out: list[Any] = []
    err: list[BaseException] = []

    def run(coro: Coroutine[Any, Any, Any] = result) -> None:
        try:
            out.append(asyncio.run(coro))
        except BaseException as exc:
            err.append(exc)

    thread = threading.Thread(target=run, name="graft-transformer")
    thread.start()
    thread.join()
    if err:
        raise err[0]
    return out[0]


class TypeTransformer(Generic[T]):
    """Converts values of one Python type to Flyte literals and back (flytekit's base)."""

    def __init__(self, name: str, t: type[T], enable_type_assertions: bool = True):
        self._t = t
        self._name = name
        self._type_assertions_enabled = enable_type_assertions

    @property
    def name(self) -> str:
        return self._name

    @property
    def python_type(self) -> type[T]:
        return self._t

    @property
    def is_async(self) -> bool:
        return False

    @property
    def type_assertions_enabled(self) -> bool:
        return self._type_assertions_enabled

    def isinstance_generic(self, obj: Any, generic_alias: Any) -> None:
        origin = typing.get_origin(generic_alias)
        if not isinstance(obj, origin):
            raise TypeTransformerFailedError(f"Value '{obj}' is not of container type {origin}")

    def assert_type(self, t: type[T], v: T) -> None:
        """TypeTransformerFailedError when `v` is not a `t`."""
        if isinstance(t, types.GenericAlias):
            return self.isinstance_generic(v, t)
        if not hasattr(t, "__origin__") and not isinstance(v, t):
            raise TypeTransformerFailedError(f"Expected value of type {t} but got '{v}' of "
                                             f"type {type(v)}")
        return None

    def get_literal_type(self, t: type[T]) -> LiteralType:
        raise NotImplementedError("Conversion to LiteralType should be implemented")

    def guess_python_type(self, literal_type: LiteralType) -> type[T]:
        raise ValueError("By default, transformers do not translate from Flyte types back to "
                         "Python types")

    def to_literal(self, ctx: Any, python_val: T, python_type: type[T],
                   expected: LiteralType) -> Literal:
        raise NotImplementedError(f"Conversion to Literal for python type {python_type} not "
                                  f"implemented")

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: type[T]) -> T | None:
        raise NotImplementedError(f"Conversion to python value expected type "
                                  f"{expected_python_type} from literal not implemented")

    def to_html(self, ctx: Any, python_val: T, expected_python_type: type[T]) -> str:
        return str(python_val)

    def __repr__(self) -> str:
        return f"{self._name} Transforms ({self._t}) to Flyte native"

    def __str__(self) -> str:
        return repr(self)


class AsyncTypeTransformer(TypeTransformer[T]):
    """A transformer whose conversions are coroutines (`async_to_literal`,
    `async_to_python_value`); the sync methods run them."""

    @property
    def is_async(self) -> bool:
        return True

    async def async_to_literal(self, ctx: Any, python_val: T, python_type: type[T],
                               expected: LiteralType) -> Literal:
        raise NotImplementedError(f"Conversion to Literal for python type {python_type} not "
                                  f"implemented")

    async def async_to_python_value(self, ctx: Any, lv: Literal,
                                    expected_python_type: type[T]) -> T | None:
        raise NotImplementedError(f"Conversion to python value expected type "
                                  f"{expected_python_type} from literal not implemented")

    def to_literal(self, ctx: Any, python_val: T, python_type: type[T],
                   expected: LiteralType) -> Literal:
        return run_sync(self.async_to_literal(ctx, python_val, python_type, expected))

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: type[T]) -> T | None:
        return run_sync(self.async_to_python_value(ctx, lv, expected_python_type))


class SimpleTransformer(TypeTransformer[T]):
    """A transformer made of two functions: value -> Literal and Literal -> value."""

    def __init__(self, name: str, t: type[T], lt: LiteralType,
                 to_literal_transformer: typing.Callable[[T], Literal],
                 from_literal_transformer: typing.Callable[[Literal], T]):
        super().__init__(name, t)
        self._type = t
        self._lt = lt
        self._to_literal_transformer = to_literal_transformer
        self._from_literal_transformer = from_literal_transformer

    @property
    def base_type(self) -> type:
        return self._type

    def get_literal_type(self, t: type[T] | None = None) -> LiteralType:
        return LiteralType.from_json(self._lt.to_json())

    def to_literal(self, ctx: Any, python_val: T, python_type: type[T],
                   expected: LiteralType) -> Literal:
        if type(python_val) is not self._type:
            raise TypeTransformerFailedError(f"Expected value of type {self._type} but got "
                                             f"'{python_val}' of type {type(python_val)}")
        return self._to_literal_transformer(python_val)

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: type[T]) -> T:
        expected = _underlying(expected_python_type)
        if expected is not self._type:
            raise TypeTransformerFailedError(f"Cannot convert to type {expected}, only "
                                             f"{self._type} is supported")
        try:
            res = self._from_literal_transformer(lv)
        except AttributeError:
            raise TypeTransformerFailedError(f"Cannot convert literal {lv} to "
                                             f"{self._type}") from None
        if type(res) is not self._type:
            raise TypeTransformerFailedError(f"Cannot convert literal {lv} to {self._type}")
        return res

    def guess_python_type(self, literal_type: LiteralType) -> type[T]:
        if literal_type.simple is not None and literal_type.simple == self._lt.simple:
            return self.python_type
        raise ValueError(f"Transformer {self} cannot reverse {literal_type}")


class RestrictedTypeError(Exception):
    pass


class RestrictedTypeTransformer(TypeTransformer[T]):
    """Refuses every conversion of its type (`TypeEngine.register_restricted_type`)."""

    def get_literal_type(self, t: type[T] | None = None) -> LiteralType:
        raise RestrictedTypeError(f"Transformer for type {self.python_type} is restricted "
                                  f"currently")

    def to_literal(self, ctx: Any, python_val: T, python_type: type[T],
                   expected: LiteralType) -> Literal:
        raise RestrictedTypeError(f"Transformer for type {self.python_type} is restricted "
                                  f"currently")

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: type[T]) -> T:
        raise RestrictedTypeError(f"Transformer for type {self.python_type} is restricted "
                                  f"currently")


def _underlying(t: Any) -> Any:
    if typing.get_origin(t) is typing.Annotated:
        return typing.get_args(t)[0]
    return t


def is_builtin(transformer: TypeTransformer) -> bool:
    """Whether graft made `transformer` (graft converts those types itself)."""
    return bool(getattr(transformer, "_graft_builtin", False))


class TypeEngine(Generic[T]):
    """The registry of transformers, by Python type (flytekit's)."""

    _REGISTRY: dict[type, TypeTransformer] = {}
    _RESTRICTED_TYPES: list[type] = []
    _FALLBACK: TypeTransformer | None = None
    _ENUM: TypeTransformer | None = None
    _users = [0]

    @classmethod
    def register(cls, transformer: TypeTransformer,
                 additional_types: list[type] | None = None) -> None:
        """Make `transformer` the one for its `python_type` (and `additional_types`);
        ValueError when one is registered for one of them already."""
        types = [transformer.python_type, *(additional_types or [])]
        for t in types:
            if t in cls._REGISTRY:
                existing = cls._REGISTRY[t]
                raise ValueError(f"Transformer {existing.name} for type {t} is already "
                                 f"registered. Cannot override with {transformer.name}")
            cls._REGISTRY[t] = transformer
        if not is_builtin(transformer):
            cls._users[0] += 1

    @classmethod
    def register_additional_type(cls, transformer: TypeTransformer, additional_type: type,
                                 override: bool = False) -> None:
        if additional_type not in cls._REGISTRY or override:
            cls._REGISTRY[additional_type] = transformer
            if not is_builtin(transformer):
                cls._users[0] += 1

    @classmethod
    def register_restricted_type(cls, name: str, type: type) -> None:
        cls._RESTRICTED_TYPES.append(type)
        cls.register(RestrictedTypeTransformer(name, type))

    @classmethod
    def _get_transformer(cls, python_type: Any) -> TypeTransformer | None:
        if typing.get_origin(python_type) is typing.Annotated:
            args = typing.get_args(python_type)
            for annotation in args[1:]:
                if isinstance(annotation, TypeTransformer):
                    return annotation
            return cls.get_transformer(args[0])
        if inspect.isclass(python_type) and issubclass(python_type, enum.Enum) \
                and python_type not in cls._REGISTRY and cls._ENUM is not None:
            return cls._ENUM
        if hasattr(python_type, "__origin__"):
            try:
                if python_type in cls._REGISTRY:
                    return cls._REGISTRY[python_type]
            except TypeError:
                pass
            if python_type.__origin__ in cls._REGISTRY:
                return cls._REGISTRY[python_type.__origin__]
        if isinstance(python_type, types.UnionType) and types.UnionType in cls._REGISTRY:
            return cls._REGISTRY[types.UnionType]
        try:
            return cls._REGISTRY.get(python_type)
        except TypeError:  # unhashable
            return None

    @classmethod
    def _find(cls, python_type: Any) -> TypeTransformer | None:
        found = cls._get_transformer(python_type)
        if found is None and hasattr(python_type, "__mro__"):
            for base in inspect.getmro(python_type)[1:]:
                found = cls._get_transformer(base)
                if found is not None:
                    break
        return found

    @classmethod
    def get_transformer(cls, python_type: Any) -> TypeTransformer:
        """The transformer for `python_type`: its own, else its nearest base class's, else
        graft's for any value (which carries graft's own literal)."""
        found = cls._find(python_type)
        if found is not None:
            return found
        assert cls._FALLBACK is not None, "sdk.values.builtin_transformers is not loaded"
        return cls._FALLBACK

    @classmethod
    def user_transformer(cls, python_type: Any) -> TypeTransformer | None:
        """The transformer a user registered for `python_type` (or a base class), else None:
        then graft's own handler converts it."""
        if not cls._users[0]:
            return None
        found = cls._find(python_type)
        return found if found is not None and not is_builtin(found) else None

    @classmethod
    def to_literal_type(cls, python_type: Any) -> LiteralType:
        return cls.get_transformer(python_type).get_literal_type(python_type)

    @classmethod
    def to_literal(cls, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType | None) -> Literal:
        transformer = cls.get_transformer(python_type)
        if transformer.type_assertions_enabled:
            transformer.assert_type(python_type, python_val)
        lv = run_sync(transformer.to_literal(ctx, python_val, python_type, expected))
        if not isinstance(lv, Literal):
            raise TypeTransformerFailedError(f"{transformer.name}.to_literal returned "
                                             f"{type(lv).__name__}, not a Literal")
        return lv

    @classmethod
    async def async_to_literal(cls, ctx: Any, python_val: Any, python_type: Any,
                               expected: LiteralType | None) -> Literal:
        return cls.to_literal(ctx, python_val, python_type, expected)

    @classmethod
    def to_python_value(cls, ctx: Any, lv: Literal, expected_python_type: Any) -> Any:
        transformer = cls.get_transformer(expected_python_type)
        return run_sync(transformer.to_python_value(ctx, lv, expected_python_type))

    @classmethod
    async def async_to_python_value(cls, ctx: Any, lv: Literal,
                                    expected_python_type: Any) -> Any:
        return cls.to_python_value(ctx, lv, expected_python_type)

    @classmethod
    def to_html(cls, ctx: Any, python_val: Any, expected_python_type: Any) -> str:
        return cls.get_transformer(expected_python_type).to_html(ctx, python_val,
                                                                  expected_python_type)

    @classmethod
    def guess_python_type(cls, flyte_type: LiteralType) -> Any:
        """The Python type of a literal type, as the first transformer that knows says."""
        for transformer in list(cls._REGISTRY.values()):
            try:
                return transformer.guess_python_type(flyte_type)
            except (ValueError, NotImplementedError, AttributeError, TypeError):
                continue
        raise ValueError(f"No transformers could reverse Flyte literal type {flyte_type}")

    @classmethod
    def guess_python_types(cls, flyte_variable_dict: dict[str, Any]) -> dict[str, Any]:
        return {k: cls.guess_python_type(getattr(v, "type", v))
                for k, v in flyte_variable_dict.items()}

    @classmethod
    def literal_map_to_kwargs(cls, ctx: Any, lm: LiteralMap,
                              python_types: dict[str, Any] | None = None,
                              literal_types: Any = None) -> dict[str, Any]:
        if python_types is None:
            raise ValueError("python_types are needed to convert a LiteralMap")
        missing = set(lm.literals) - set(python_types)
        if missing:
            raise ValueError(f"no types given for {', '.join(sorted(missing))}")
        return {k: cls.to_python_value(ctx, lv, python_types[k]) for k, lv in lm.literals.items()}

    @classmethod
    def dict_to_literal_map(cls, ctx: Any, d: dict[str, Any],
                            type_hints: dict[str, Any] | None = None) -> LiteralMap:
        hints = type_hints or {}
        return LiteralMap({k: cls.to_literal(ctx, v, hints.get(k, type(v)),
                                             cls.to_literal_type(hints.get(k, type(v))))
                           for k, v in d.items()})

    @classmethod
    def get_available_transformers(cls) -> typing.KeysView[type]:
        return cls._REGISTRY.keys()

    @classmethod
    def lazy_import_transformers(cls) -> None:
        """flytekit loads some transformers on first use; graft's are loaded already."""
