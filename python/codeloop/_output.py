"""Structured output from Python types: the JSON Schema sent as
``output_schema`` derived from a pydantic model class or a dataclass type,
and the parsed answer (``RunResult.output``) turned back into an instance.

The core validates the answer against the schema; this module only
translates. pydantic is never imported here: a model class is recognised by
its ``model_json_schema`` / ``model_validate`` methods (pydantic 2).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import sys
import types
import typing
from typing import Any, Dict, Mapping, Optional, Tuple, Union

__all__ = ["OutputSpec", "output_spec"]

# `X | Y` unions (3.10+) have their own origin type.
_UNION_TYPES: Tuple[Any, ...] = (Union,)
if sys.version_info >= (3, 10):
    _UNION_TYPES = (Union, types.UnionType)


def _is_pydantic_model(value: Any) -> bool:
    return (
        isinstance(value, type)
        and callable(getattr(value, "model_json_schema", None))
        and callable(getattr(value, "model_validate", None))
    )


def _is_dataclass_type(value: Any) -> bool:
    return isinstance(value, type) and dataclasses.is_dataclass(value)


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """An output schema and, when it came from a type, that type."""

    schema: Dict[str, Any]
    type: Optional[type] = None

    def convert(self, value: Any) -> Any:
        """The parsed answer as an instance of ``type`` (as-is without one)."""
        if self.type is None or value is None:
            return value
        if _is_pydantic_model(self.type):
            return self.type.model_validate(value)  # type: ignore[attr-defined]
        return _from_json(self.type, value)


def output_spec(schema: Any = None, output_type: Any = None) -> Optional[OutputSpec]:
    """What ``output_schema=`` / ``output_type=`` ask for: a dict is a JSON
    Schema; a pydantic model class or a dataclass type gives its schema and
    turns the answer into an instance."""
    if output_type is not None and not (
        _is_pydantic_model(output_type) or _is_dataclass_type(output_type)
    ):
        raise TypeError(
            f"output_type must be a pydantic model class or a dataclass type, not {output_type!r}"
        )
    if schema is None:
        if output_type is None:
            return None
        return OutputSpec(schema_of(output_type), output_type)
    if isinstance(schema, Mapping):
        return OutputSpec(dict(schema), output_type)
    if _is_pydantic_model(schema) or _is_dataclass_type(schema):
        return OutputSpec(schema_of(schema), output_type or schema)
    raise TypeError(
        "output_schema must be a JSON Schema dict, a pydantic model class or a dataclass type, "
        f"not {schema!r}"
    )


def schema_of(cls: Any) -> Dict[str, Any]:
    """The JSON Schema of a pydantic model class or a dataclass type, in the
    strict shape structured outputs need (every property required, no extra
    properties)."""
    if _is_pydantic_model(cls):
        schema: Dict[str, Any] = cls.model_json_schema()
        _strict(schema)
        return schema
    defs: Dict[str, Any] = {}
    root = _dataclass_schema(cls, defs)
    if defs:
        root["$defs"] = defs
    return root


def _strict(schema: Any) -> None:
    """Close every object schema of a pydantic schema, in place (as the
    OpenAI SDK does for its ``response_format``)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
            schema["required"] = list(schema["properties"])
        # A None default says nothing a nullable, required property does not.
        if "default" in schema and schema["default"] is None:
            del schema["default"]
        for value in schema.values():
            _strict(value)
    elif isinstance(schema, list):
        for value in schema:
            _strict(value)


def _hints(cls: Any) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _dataclass_schema(cls: Any, defs: Dict[str, Any]) -> Dict[str, Any]:
    hints = _hints(cls)
    properties = {f.name: _type_schema(hints[f.name], defs) for f in dataclasses.fields(cls)}
    schema: Dict[str, Any] = {
        "type": "object",
        "title": cls.__name__,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    return schema


def _type_schema(hint: Any, defs: Dict[str, Any]) -> Dict[str, Any]:
    if hint is Any or hint is object:
        return {}
    if hint is type(None):
        return {"type": "null"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if _is_dataclass_type(hint):
        name = hint.__name__
        if name not in defs:
            defs[name] = {}  # a placeholder first: the type may refer to itself
            defs[name] = _dataclass_schema(hint, defs)
        return {"$ref": f"#/$defs/{name}"}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in _UNION_TYPES:
        return {"anyOf": [_type_schema(a, defs) for a in args]}
    if origin in (list, collections.abc.Sequence) or (origin is tuple and _variadic(args)):
        return {"type": "array", "items": _type_schema(args[0], defs) if args else {}}
    if origin in (dict, collections.abc.Mapping):
        values = _type_schema(args[1], defs) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": values}
    if hint in (list, tuple):
        return {"type": "array"}
    if hint is dict:
        return {"type": "object"}
    raise TypeError(f"no JSON Schema for the type {hint!r} (of an output dataclass)")


def _variadic(args: Tuple[Any, ...]) -> bool:
    return len(args) == 2 and args[1] is Ellipsis


def _from_json(hint: Any, value: Any) -> Any:
    """``value`` (parsed JSON that matched the schema) as ``hint``."""
    if value is None:
        return None
    if _is_dataclass_type(hint):
        hints = _hints(hint)
        return hint(
            **{
                f.name: _from_json(hints[f.name], value[f.name])
                for f in dataclasses.fields(hint)
                if f.name in value
            }
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in _UNION_TYPES:
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _from_json(arg, value)
            except (TypeError, KeyError, ValueError):
                continue
        return value
    if origin in (list, collections.abc.Sequence) and args:
        return [_from_json(args[0], v) for v in value]
    if origin is tuple and args:
        return tuple(_from_json(args[0], v) for v in value)
    if origin in (dict, collections.abc.Mapping) and len(args) == 2:
        return {k: _from_json(args[1], v) for k, v in value.items()}
    if hint is float and isinstance(value, int):
        return float(value)
    if isinstance(hint, type) and hint in (bool, int, float, str) and not isinstance(value, hint):
        raise TypeError(f"{value!r} is not a {hint.__name__}")
    return value
