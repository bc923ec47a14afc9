"""The typed package agrees with the protocol's JSON Schema
(core/protocol.schema.json, itself drift-tested against the Rust types)."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path
from typing import Any, Dict, List, Literal, Union

import pytest
from conftest import AgentFactory
from mockmodel import ROOT, MockModel, call_turn, function_call, shell_call, text_turn

import codeloop
from codeloop import types as t

SCHEMA = json.loads((ROOT / "core/protocol.schema.json").read_text())
DEFS: Dict[str, Any] = SCHEMA["$defs"]

# Literal aliases of codeloop.types and the schema definitions they mirror.
ENUMS = {
    "SandboxMode": t.SandboxMode,
    "ApprovalPolicy": t.ApprovalPolicy,
    "WireApi": t.WireApi,
    "ShellToolKind": t.ShellToolKind,
    "ReasoningEffort": t.ReasoningEffort,
    "ReasoningSummaryMode": t.ReasoningSummaryMode,
    "EnvInherit": t.EnvInherit,
    "DeltaKind": t.DeltaKind,
    "CommandStatus": t.CommandStatus,
    "PatchStatus": t.PatchStatus,
    "ToolCallStatus": t.ToolCallStatus,
    "PatchChangeKind": t.PatchChangeKind,
    "HookDecision": t.HookDecision,
    "ApprovalDecision": t.ApprovalDecision,
    "ErrorCode": t.ErrorCode,
    "CompactionTrigger": t.CompactionTrigger,
}

# TypedDicts of codeloop.types that mirror one object definition.
OBJECTS = {
    "Usage": t.Usage,
    "ThreadError": t.ThreadError,
    "FileUpdateChange": t.FileUpdateChange,
    "ItemError": t.ItemError,
    "TodoItem": t.TodoItem,
    "McpToolCallResult": t.McpToolCallResult,
    "HostToolCall": t.HostToolCall,
    "HostToolSpec": t.HostToolSpec,
    "HookOutcome": t.HookOutcome,
    "EnvPolicy": t.EnvPolicy,
    "McpServerConfig": t.McpServerConfig,
    "ModelPrice": t.ModelPrice,
    "RunOptions": t.RunOptions,
    "HookMatcherGroup": t.HookMatcherGroup,
    "Compaction": t.Compaction,
}

# Unions of codeloop.types that mirror a tagged definition, and their tag.
UNIONS = {
    "ThreadEvent": (t.ThreadEvent, "type"),
    "ThreadItem": (t.ThreadItem, "type"),
    "HookEvent": (t.HookEvent, "hook_event_name"),
    "ApprovalRequest": (t.ApprovalRequest, "kind"),
    "HookHandlerSpec": (t.HookHandlerSpec, "type"),
}


def enum_values(definition: Dict[str, Any]) -> List[Any]:
    if "enum" in definition:
        return list(definition["enum"])
    if "const" in definition:
        return [definition["const"]]
    values: List[Any] = []
    for variant in definition.get("oneOf", []):
        values.extend(enum_values(variant))
    return values


def literal_values(hint: Any) -> List[Any]:
    assert typing.get_origin(hint) is Literal, hint
    return list(typing.get_args(hint))


def variants(definition: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The object shapes of a definition: its oneOf variants merged with the
    properties they share, or the definition itself."""
    if "oneOf" not in definition:
        return [definition]
    shared_props = definition.get("properties", {})
    shared_required = definition.get("required", [])
    shapes = []
    for v in definition["oneOf"]:
        # A variant may take its fields from another definition
        # (thread.compacted: a Compaction with a `type`).
        ref = DEFS[v["$ref"].split("/")[-1]] if "$ref" in v else {}
        shapes.append(
            {
                "properties": {
                    **shared_props,
                    **ref.get("properties", {}),
                    **v.get("properties", {}),
                },
                "required": [*shared_required, *ref.get("required", []), *v.get("required", [])],
            }
        )
    return shapes


def strip_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) is Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True
    return hint, False


def check_type(where: str, hint: Any, prop: Any) -> None:
    """The type hint of one key agrees with its property schema."""
    if prop is True or prop == {} or set(prop) <= {"description", "default"}:
        return  # any JSON value
    nullable = False
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o != {"type": "null"}]
        nullable = len(options) < len(prop["anyOf"])
        assert len(options) == 1, where
        prop = options[0]
    kinds = prop.get("type")
    if isinstance(kinds, list):
        nullable = nullable or "null" in kinds
        kinds = [k for k in kinds if k != "null"]
        kinds = kinds[0] if len(kinds) == 1 else kinds
    inner, optional = strip_optional(hint)
    if nullable:
        assert optional, f"{where}: the schema allows null, the type hint does not"
    if "$ref" in prop:
        name = prop["$ref"].split("/")[-1]
        definition = DEFS[name]
        if name in ENUMS:
            assert literal_values(inner) == literal_values(ENUMS[name]), where
            assert sorted(literal_values(inner)) == sorted(enum_values(definition)), where
        else:
            expected = OBJECTS.get(name) or UNIONS.get(name, (None, ""))[0]
            assert inner is expected, f"{where}: {inner} is not the TypedDict for {name}"
        return
    if "const" in prop:
        assert literal_values(inner) == [prop["const"]], where
        return
    simple = {"string": str, "integer": int, "boolean": bool, "number": float}
    if kinds in simple:
        assert inner is simple[kinds], f"{where}: {inner} for {kinds}"
    elif kinds == "array":
        assert typing.get_origin(inner) is list, where
        check_type(f"{where}[]", typing.get_args(inner)[0], prop.get("items", True))
    elif kinds == "object":
        assert typing.get_origin(inner) is dict or inner is Any, where
    else:
        raise AssertionError(f"{where}: unhandled schema {prop}")


def check_typeddict(name: str, td: Any, shape: Dict[str, Any]) -> None:
    hints = typing.get_type_hints(td)
    properties = shape.get("properties", {})
    assert set(hints) == set(properties), f"{name}: keys differ from the schema"
    required = set(shape.get("required", []))
    assert required <= td.__required_keys__, f"{name}: schema-required keys are optional"
    assert td.__optional_keys__ <= set(properties) - required, f"{name}: wrongly optional keys"
    for key, prop in properties.items():
        check_type(f"{name}.{key}", hints[key], prop)


def test_literal_aliases_match_the_schema_enums() -> None:
    for name, alias in ENUMS.items():
        assert sorted(literal_values(alias)) == sorted(enum_values(DEFS[name])), name


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_object_typeddicts_match_the_schema(name: str) -> None:
    check_typeddict(name, OBJECTS[name], DEFS[name])


@pytest.mark.parametrize("name", sorted(UNIONS))
def test_tagged_unions_match_the_schema(name: str) -> None:
    union, tag = UNIONS[name]
    by_tag = {}
    for td in typing.get_args(union):
        (value,) = literal_values(typing.get_type_hints(td)[tag])
        by_tag[value] = td
    shapes = variants(DEFS[name])
    schema_tags = [shape["properties"][tag]["const"] for shape in shapes]
    assert sorted(by_tag) == sorted(schema_tags), name
    for shape, value in zip(shapes, schema_tags):
        check_typeddict(f"{name}[{value}]", by_tag[value], shape)


def test_agent_keywords_are_the_agent_options() -> None:
    parameters = inspect.signature(codeloop.Agent.__init__).parameters
    keywords = {p for p in parameters if p != "self"}
    options = set(DEFS["AgentOptions"]["properties"])
    # host_tools is given as Python functions (tools=); the rest are callbacks.
    assert keywords == (options - {"host_tools"}) | {"tools", "can_use_tool", "hooks"}
    assert all(parameters[p].kind is inspect.Parameter.KEYWORD_ONLY for p in keywords)
    assert all(parameters[p].default is None for p in keywords)


@pytest.mark.parametrize("method", ["run", "run_async", "run_streamed"])
def test_run_keywords_are_the_run_options(method: str) -> None:
    parameters = inspect.signature(getattr(codeloop.Thread, method)).parameters
    keywords = {p for p, v in parameters.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    # output_type: the Python class the output is returned as.
    assert keywords == set(DEFS["RunOptions"]["properties"]) | {"output_type"}
    assert all(parameters[p].default is None for p in keywords)


def test_the_native_schema_is_the_committed_one() -> None:
    assert json.loads(codeloop.protocol_schema()) == SCHEMA


def test_events_of_a_real_run_fit_their_typeddicts(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    @codeloop.tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    mock.push(
        call_turn(
            shell_call("c1", "echo hi"),
            function_call("c2", "echo", {"text": "x"}),
            function_call("c3", "update_plan", {"plan": [{"step": "a", "status": "pending"}]}),
        ),
        text_turn("done"),
    )
    run = make_agent(sandbox="danger-full-access", tools=[echo]).start_thread().run_streamed("go")
    events = list(run)
    seen = set()
    event_types = {
        literal_values(typing.get_type_hints(td)["type"])[0]: td
        for td in typing.get_args(t.ThreadEvent)
    }
    item_types = {
        literal_values(typing.get_type_hints(td)["type"])[0]: td
        for td in typing.get_args(t.ThreadItem)
    }

    def fits(value: Dict[str, Any], td: Any) -> None:
        keys = set(value)
        assert td.__required_keys__ <= keys <= set(typing.get_type_hints(td)), (td, value)

    for event in events:
        fits(event, event_types[event["type"]])
        seen.add(event["type"])
        if "item" in event:
            fits(event["item"], item_types[event["item"]["type"]])
            seen.add(event["item"]["type"])
    assert {"thread.started", "turn.started", "item.started", "item.completed"} <= seen
    assert {"command_execution", "tool_call", "todo_list", "agent_message"} <= seen
