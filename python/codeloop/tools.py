"""Host tools: Python functions the model can call, run in this process.

::

    @codeloop.tool
    def lookup_ticket(ticket_id: str, include_comments: bool = False) -> dict:
        \"\"\"Fetch a ticket from the tracker.

        Args:
            ticket_id: The ticket's key, like "ENG-42".
            include_comments: Whether to add the comments.
        \"\"\"
        return tracker.get(ticket_id, comments=include_comments)

    agent = codeloop.Agent(tools=[lookup_ticket])

The JSON Schema the model sees comes from the type hints (``str``, ``int``,
``float``, ``bool``, ``None``, ``Optional``/``Union``, ``list``/``tuple``/
``set``, ``dict``, ``Literal``, ``Enum``, ``TypedDict``, dataclasses,
``Annotated[T, "description"]``) and the description from the docstring
(its first paragraphs; parameter descriptions from a Google ``Args:``, a
NumPy ``Parameters`` or reST ``:param x:`` section).

A tool may be a plain or an ``async`` function. Its return value goes to the
model as text (a ``str`` as is, anything else as JSON). If it raises, the
model gets the error as the tool's result and the turn goes on. A parameter
annotated :class:`ToolContext` is not shown to the model; it receives the
call's thread id and call id.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import json
import re
import types as _pytypes
import typing
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, Union, overload

from .types import HostToolSpec

__all__ = ["Tool", "ToolContext", "tool"]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class ToolContext:
    """What a tool may know about its call (declare a parameter of this type)."""

    thread_id: str
    call_id: str
    tool_name: str


class Tool:
    """A function offered to the model as a tool. Calling the object calls
    the function, so a decorated function stays usable as before."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
    ) -> None:
        self.fn = fn
        self.name: str = name or fn.__name__
        summary, param_docs = _parse_docstring(inspect.getdoc(fn) or "")
        self.description: str = description if description is not None else summary
        self.parameters, self._context_param, self._converters = _parameters_schema(fn, param_docs)
        self.is_async: bool = _is_async(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = self.name
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<codeloop.Tool {self.name}>"

    def spec(self) -> HostToolSpec:
        """The tool as the core's ``HostToolSpec``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def invoke(self, arguments: Any, context: ToolContext) -> Any:
        """Call the function with the model's arguments. Returns its result,
        or an awaitable for an async function. Raises ``TypeError`` for
        arguments that do not fit the signature (the model is told)."""
        if not isinstance(arguments, dict):
            raise TypeError(f"the arguments must be a JSON object, got {type(arguments).__name__}")
        kwargs: Dict[str, Any] = {}
        properties = self.parameters.get("properties", {})
        unknown = sorted(set(arguments) - set(properties))
        if unknown:
            raise TypeError(f"unexpected argument(s): {', '.join(unknown)}")
        missing = [p for p in self.parameters.get("required", []) if p not in arguments]
        if missing:
            raise TypeError(f"missing required argument(s): {', '.join(missing)}")
        for key, value in arguments.items():
            convert = self._converters.get(key)
            kwargs[key] = convert(value) if convert is not None else value
        if self._context_param is not None:
            kwargs[self._context_param] = context
        return self.fn(**kwargs)


@overload
def tool(fn: _F, /) -> Tool: ...


@overload
def tool(
    *, name: Optional[str] = None, description: Optional[str] = None
) -> Callable[[_F], Tool]: ...


def tool(
    fn: Optional[_F] = None,
    /,
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
) -> Union[Tool, Callable[[_F], Tool]]:
    """Make a function a tool the model can call: ``@tool`` or
    ``@tool(name=..., description=...)``."""
    if fn is not None:
        return Tool(fn, name=name, description=description)

    def wrap(f: _F) -> Tool:
        return Tool(f, name=name, description=description)

    return wrap


def as_tool(obj: Union[Tool, Callable[..., Any]]) -> Tool:
    """A :class:`Tool` for ``obj``: itself, or a plain function wrapped."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool(obj)
    raise TypeError(f"tools must be functions or @codeloop.tool objects, got {obj!r}")


def tool_output(value: Any) -> str:
    """A tool's return value as the text the model reads."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError):
        return str(value)


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - a callable object's method
    )


# ------------------------------------------------------------- docstrings

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Examples?|Notes?|"
    r"Attributes|See Also)\s*:?\s*$"
)
_REST_PARAM = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_REST_FIELD = re.compile(r"^\s*:(\w+)")
_GOOGLE_PARAM = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_PARAM = re.compile(r"^(\w+)\s*(?::.*)?$")


def _parse_docstring(doc: str) -> Tuple[str, Dict[str, str]]:
    """The summary (text before the first section) and parameter descriptions."""
    lines = doc.splitlines()
    summary: List[str] = []
    params: Dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SECTION.match(line) or _REST_FIELD.match(line):
            break
        summary.append(line)
        i += 1
    while i < len(lines):
        line = lines[i]
        section = _SECTION.match(line)
        rest = _REST_PARAM.match(line)
        if rest:
            name, text = rest.group(1), [rest.group(2).strip()]
            i += 1
            while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
                text.append(lines[i].strip())
                i += 1
            params[name] = " ".join(t for t in text if t)
            continue
        if section and section.group(1) in ("Args", "Arguments", "Parameters", "Params"):
            i += 1
            numpy = i < len(lines) and set(lines[i].strip()) == {"-"}
            if numpy:
                i += 1
            i = _parse_param_block(lines, i, params, numpy)
            continue
        i += 1
    return "\n".join(summary).strip(), params


def _parse_param_block(lines: List[str], i: int, params: Dict[str, str], numpy: bool) -> int:
    """Parameters of a Google or NumPy section, until the section ends."""
    base: Optional[int] = None
    name: Optional[str] = None
    text: List[str] = []

    def flush() -> None:
        if name is not None:
            params[name.lstrip("*")] = " ".join(t for t in text if t)

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        if _SECTION.match(line) and (base is None or indent <= base - (0 if numpy else 1)):
            break
        if base is None:
            base = indent
        if indent < base:
            break
        if indent == base:
            flush()
            match = (_NUMPY_PARAM if numpy else _GOOGLE_PARAM).match(line.strip())
            if match is None:
                break
            name = match.group(1)
            text = [] if numpy else [match.group(2).strip()]
        else:
            text.append(line.strip())
        i += 1
    flush()
    return i


# ---------------------------------------------------------------- schemas

_NONE_TYPE = type(None)


def _parameters_schema(
    fn: Callable[..., Any], docs: Mapping[str, str]
) -> Tuple[Dict[str, Any], Optional[str], Dict[str, Callable[[Any], Any]]]:
    """The JSON Schema of ``fn``'s parameters, the name of its ToolContext
    parameter if any, and converters from JSON values for parameters whose
    type is richer than JSON (Enum, dataclass)."""
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # unresolvable forward references, 3.10+ syntax on 3.9
        raise TypeError(
            f"cannot read the type hints of tool {getattr(fn, '__name__', fn)!r}: {exc}"
        ) from exc
    properties: Dict[str, Any] = {}
    required: List[str] = []
    context_param: Optional[str] = None
    converters: Dict[str, Callable[[Any], Any]] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.kind == param.POSITIONAL_ONLY:
            raise TypeError(
                f"tool {fn.__name__!r}: parameter {param.name!r} is positional-only; "
                "the model passes arguments by name"
            )
        annotation = hints.get(param.name, Any)
        if annotation is ToolContext:
            context_param = param.name
            continue
        try:
            schema = _schema(annotation)
        except TypeError as exc:
            raise TypeError(f"tool {fn.__name__!r}, parameter {param.name!r}: {exc}") from None
        if param.name in docs and "description" not in schema:
            schema = {**schema, "description": docs[param.name]}
        if param.default is param.empty:
            required.append(param.name)
        else:
            default = _json_default_value(param.default)
            if default is not _NO_DEFAULT:
                schema = {**schema, "default": default}
        properties[param.name] = schema
        convert = _converter(annotation)
        if convert is not None:
            converters[param.name] = convert
    parameters: Dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        parameters["required"] = required
    return parameters, context_param, converters


_NO_DEFAULT = object()


def _json_default_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return _NO_DEFAULT
    return value


_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", _NONE_TYPE: "null"}


def _schema(tp: Any) -> Dict[str, Any]:
    """The JSON Schema of a type hint."""
    if tp is Any or tp is object or tp is inspect.Parameter.empty:
        return {}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    if tp is list or tp is tuple or tp is set or tp is frozenset:
        return {"type": "array"}
    if tp is dict:
        return {"type": "object"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    schema: Dict[str, Any]
    if origin is typing.Annotated:
        schema = _schema(args[0])
        text = next((a for a in args[1:] if isinstance(a, str)), None)
        return {**schema, "description": text} if text else schema
    if origin is Union or _is_union_type(origin):
        options = [_schema(a) for a in args]
        simple = [o.get("type") for o in options]
        if all(isinstance(t, str) and len(o) == 1 for t, o in zip(simple, options)):
            return {"type": simple}
        return {"anyOf": options}
    if origin is typing.Literal:
        values = [a.value if isinstance(a, enum.Enum) else a for a in args]
        schema = {"enum": values}
        kinds = {_SIMPLE.get(type(v)) for v in values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if origin in (list, set, frozenset) or _is_abc(origin, "Sequence", "Set", "Iterable"):
        return {"type": "array", "items": _schema(args[0])} if args else {"type": "array"}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0])}
        if args == ((),):
            return {"type": "array", "maxItems": 0}
        return {
            "type": "array",
            "prefixItems": [_schema(a) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin is dict or _is_abc(origin, "Mapping"):
        if args and args[0] is not str:
            raise TypeError(f"JSON object keys are strings; {tp} has {args[0]} keys")
        return (
            {"type": "object", "additionalProperties": _schema(args[1])}
            if args
            else {"type": "object"}
        )
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        schema = {"enum": values}
        kinds = {_SIMPLE.get(type(v)) for v in values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema
    if _is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        required_keys = getattr(tp, "__required_keys__", frozenset(hints))
        schema = {
            "type": "object",
            "properties": {k: _schema(v) for k, v in hints.items()},
            "additionalProperties": False,
        }
        required = [k for k in hints if k in required_keys]
        if required:
            schema["required"] = required
        return schema
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp, include_extras=True)
        fields = [f for f in dataclasses.fields(tp) if f.init]
        schema = {
            "type": "object",
            "properties": {f.name: _schema(hints.get(f.name, Any)) for f in fields},
            "additionalProperties": False,
        }
        required = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if required:
            schema["required"] = required
        if tp.__doc__ and not tp.__doc__.startswith(f"{tp.__name__}("):
            schema["description"] = inspect.cleandoc(tp.__doc__)
        return schema
    raise TypeError(f"no JSON Schema for the type {tp!r}")


def _converter(tp: Any) -> Optional[Callable[[Any], Any]]:
    """A converter from the JSON value to ``tp``, for Enum and dataclass types."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        enum_type = tp
        return lambda v: enum_type(v)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        cls = tp
        return lambda v: cls(**v) if isinstance(v, dict) else v
    return None


def _is_union_type(origin: Any) -> bool:
    # `int | None` (3.10+) has its own origin, types.UnionType.
    union_type = getattr(_pytypes, "UnionType", None)
    return union_type is not None and origin is union_type


def _is_abc(origin: Any, *names: str) -> bool:
    return any(origin is getattr(collections.abc, n, None) for n in names)


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")
