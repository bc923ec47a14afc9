"""Host tools: the schema @codeloop.tool builds, and tools called by the
model in process (sync, async, raising)."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import threading
from typing import Annotated, Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union

import pytest
from conftest import AgentFactory
from mockmodel import MockModel, call_turn, function_call, text_turn, tool_names, tool_outputs

import codeloop

# ------------------------------------------------------------------ schemas


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    """A point on the plane."""

    x: float
    y: float = 0.0


class Options(TypedDict, total=False):
    verbose: bool


def test_schema_from_type_hints_and_a_google_docstring() -> None:
    @codeloop.tool
    def search(
        query: str,
        limit: int = 10,
        exact: bool = False,
        tags: Optional[List[str]] = None,
        mode: Literal["fast", "deep"] = "fast",
    ) -> str:
        """Search the knowledge base.

        Returns the best matches first.

        Args:
            query: What to look for.
            limit: How many results
                to return at most.
            exact: Match whole words only.
            tags: Only entries with these tags.
            mode: How hard to look.

        Returns:
            The matches, one per line.
        """
        return query

    assert search.name == "search"
    assert search.description == "Search the knowledge base.\n\nReturns the best matches first."
    assert search.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {
                "type": "integer",
                "description": "How many results to return at most.",
                "default": 10,
            },
            "exact": {
                "type": "boolean",
                "description": "Match whole words only.",
                "default": False,
            },
            "tags": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "description": "Only entries with these tags.",
                "default": None,
            },
            "mode": {
                "enum": ["fast", "deep"],
                "type": "string",
                "description": "How hard to look.",
                "default": "fast",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    # The decorated function is still the function.
    assert search("x") == "x"


def test_schema_of_richer_types_and_other_docstring_styles() -> None:
    @codeloop.tool(name="place", description="Put a point somewhere.")
    def place_point(
        point: Point,
        color: Color,
        weights: Dict[str, float],
        pair: Tuple[int, str],
        options: Options,
        note: Annotated[str, "A note for the log."],
        maybe: Union[int, None],
        ctx: codeloop.ToolContext,
    ) -> None:
        """Ignored: the description was given."""

    assert place_point.name == "place"
    assert place_point.description == "Put a point somewhere."
    props = place_point.parameters["properties"]
    assert "ctx" not in props  # the context is not the model's to give
    assert props["point"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        "required": ["x"],
        "additionalProperties": False,
        "description": "A point on the plane.",
    }
    assert props["color"] == {"enum": ["red", "blue"], "type": "string"}
    assert props["weights"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert props["options"]["properties"] == {"verbose": {"type": "boolean"}}
    assert "required" not in props["options"]
    assert props["note"] == {"type": "string", "description": "A note for the log."}
    assert props["maybe"] == {"type": ["integer", "null"]}

    def rest(path: str, mode: str = "r") -> str:
        """Open a file.

        :param path: The file to open.
        :param str mode: How to open it.
        """
        return path

    def numpy(path: str) -> str:
        """Open a file.

        Parameters
        ----------
        path : str
            The file to open.
        """
        return path

    for fn in (rest, numpy):
        t = codeloop.tool(fn)
        assert t.description == "Open a file."
        assert t.parameters["properties"]["path"]["description"] == "The file to open."
    assert codeloop.tool(rest).parameters["properties"]["mode"]["description"] == "How to open it."


class Opaque:
    pass


def test_types_without_a_json_schema_are_refused_when_decorating() -> None:
    with pytest.raises(TypeError, match="parameter 'thing'"):

        @codeloop.tool
        def broken(thing: Opaque) -> None: ...


# --------------------------------------------------------- calls by the model


def test_sync_async_and_raising_tools_run_in_process(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    calls: List[Tuple[str, Any]] = []
    main_thread = threading.get_ident()

    @codeloop.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        calls.append(("add", threading.get_ident()))
        return a + b

    @codeloop.tool
    async def lookup(key: str, ctx: codeloop.ToolContext) -> Dict[str, Any]:
        """Look a key up."""
        await asyncio.sleep(0)
        calls.append(("lookup", ctx))
        return {"key": key, "value": 42}

    @codeloop.tool
    def explode(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(f"exploded: {reason}")

    @codeloop.tool
    def painter(color: Color, point: Point) -> str:
        """Paint a point."""
        return f"{color.name} at {point.x},{point.y}"

    mock.push(
        call_turn(
            function_call("c1", "add", {"a": 2, "b": 3}),
            function_call("c2", "lookup", {"key": "answer"}),
            function_call("c3", "explode", {"reason": "on purpose"}),
            function_call("c4", "add", {"a": 1}),
            function_call("c5", "painter", {"color": "blue", "point": {"x": 1.5}}),
            function_call("c6", "nobody", {}),
        ),
        text_turn("all done"),
    )
    agent = make_agent(tools=[add, lookup, explode, painter])
    thread = agent.start_thread()
    result = thread.run("use the tools")

    # The turn went on past the failing calls.
    assert result.final_response == "all done"
    first, second = mock.requests()
    assert {"add", "lookup", "explode", "painter"} <= set(tool_names(first))
    add_spec = next(t for t in first["body"]["tools"] if t.get("name") == "add")
    assert add_spec["description"] == "Add two numbers."
    assert add_spec["parameters"]["required"] == ["a", "b"]

    outputs = tool_outputs(second)
    assert outputs["c1"] == "5"
    assert json.loads(outputs["c2"]) == {"key": "answer", "value": 42}
    assert "RuntimeError: exploded: on purpose" in outputs["c3"]
    assert "missing required argument(s): b" in outputs["c4"]
    assert outputs["c5"] == "BLUE at 1.5,0.0"
    assert "unknown tool" in outputs["c6"]

    # Sync tools run on a codeloop thread, not the caller's; the async one
    # got its context.
    add_threads = [ident for name, ident in calls if name == "add"]
    assert add_threads
    assert main_thread not in add_threads
    (context,) = [c for name, c in calls if name == "lookup"]
    assert context == codeloop.ToolContext(thread_id=thread.id, call_id="c2", tool_name="lookup")

    tool_items = [i for i in result.items if i["type"] == "tool_call"]
    added = next(i for i in tool_items if i["arguments"] == {"a": 2, "b": 3})
    assert added["status"] == "completed"
    assert added.get("output") == "5"
    failed = next(i for i in tool_items if i["tool"] == "explode")
    assert failed["status"] == "failed"
    assert "exploded" in (failed.get("error") or {}).get("message", "")


def test_async_tools_run_on_the_callers_loop_under_the_async_api(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    seen: List[asyncio.AbstractEventLoop] = []

    @codeloop.tool
    async def where() -> str:
        """Report the loop."""
        seen.append(asyncio.get_running_loop())
        return "here"

    mock.push(call_turn(function_call("c1", "where", {})), text_turn("ok"))
    mock.push(call_turn(function_call("c2", "where", {})), text_turn("ok"))
    agent = make_agent(tools=[where])

    async def main() -> asyncio.AbstractEventLoop:
        await agent.start_thread().run_async("where?")
        return asyncio.get_running_loop()

    caller_loop = asyncio.run(main())
    assert seen == [caller_loop]

    # Run synchronously, the same tool runs on the package's own loop.
    agent.start_thread().run("where?")
    assert seen[1] is not caller_loop
    assert seen[1].is_running()


def test_plain_functions_are_tools_too_and_names_are_checked(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    mock.push(call_turn(function_call("c1", "shout", {"text": "hey"})), text_turn("done"))
    make_agent(tools=[shout]).start_thread().run("shout")
    assert tool_outputs(mock.requests()[1])["c1"] == "HEY"

    with pytest.raises(codeloop.ConfigError, match="built-in tool"):
        make_agent(tools=[codeloop.tool(name="shell")(shout)])
    with pytest.raises(codeloop.ConfigError, match="defined twice"):
        make_agent(tools=[shout, shout])
