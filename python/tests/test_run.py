"""Running turns: sync, streamed (for and async for), async, resume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import AgentFactory
from mockmodel import (
    MockModel,
    call_turn,
    created,
    input_texts,
    shell_call,
    sse,
    text_delta,
    text_turn,
    tool_outputs,
)

import codeloop


def test_run_returns_the_final_response_items_and_usage(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(text_turn("hello from the mock"))
    agent = make_agent()
    thread = agent.start_thread()
    result = thread.run("say hello")

    assert isinstance(result, codeloop.RunResult)
    assert result.final_response == "hello from the mock"
    assert result.thread_id == thread.id
    assert [item["type"] for item in result.items] == ["agent_message"]
    assert result.items[0]["text"] == "hello from the mock"
    assert result.usage == {
        "input_tokens": 100,
        "cached_input_tokens": 40,
        "output_tokens": 10,
        "reasoning_output_tokens": 3,
    }
    assert thread.usage == result.usage

    (request,) = mock.requests()
    assert request["headers"]["authorization"] == "Bearer test-key"
    assert request["body"]["model"] == "mock-model"
    assert input_texts(request)[-1] == "say hello"


def test_a_shell_call_runs_and_its_output_reaches_the_model(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    (workdir / "data.txt").write_text("forty-two\n")
    mock.push(
        call_turn(shell_call("call_1", "cat data.txt")),
        text_turn("the file says forty-two"),
    )
    agent = make_agent(sandbox="danger-full-access")
    result = agent.start_thread().run("what is in data.txt?")

    assert result.final_response == "the file says forty-two"
    command = next(i for i in result.items if i["type"] == "command_execution")
    assert command["status"] == "completed"
    assert command["exit_code"] == 0
    assert "forty-two" in command["aggregated_output"]
    second = mock.requests()[1]
    assert "forty-two" in tool_outputs(second)["call_1"]


def test_run_streamed_yields_the_codex_events_in_order(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(text_turn("streamed answer"))
    thread = make_agent().start_thread()
    run = thread.run_streamed("stream please")
    events = list(run)

    types = [e["type"] for e in events]
    assert types[:2] == ["thread.started", "turn.started"]
    assert types[-1] == "turn.completed"
    assert events[0]["thread_id"] == thread.id == run.thread_id
    deltas = [e["delta"] for e in events if e["type"] == "item.delta"]
    assert "".join(deltas) == "streamed answer"
    completed = [e["item"] for e in events if e["type"] == "item.completed"]
    assert completed[-1]["type"] == "agent_message"
    assert completed[-1]["text"] == "streamed answer"
    # The deltas and the completed message share one item id.
    assert {e["item_id"] for e in events if e["type"] == "item.delta"} == {completed[-1]["id"]}
    # The result is there after iterating, and again without a second run.
    assert run.result().final_response == "streamed answer"
    assert run.result() is run.result()
    assert list(run) == []


def test_async_for_and_run_async(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(text_turn("first, streamed"), text_turn("second, awaited"))

    async def main() -> tuple[list[str], codeloop.RunResult, codeloop.RunResult]:
        thread = make_agent().start_thread()
        run = thread.run_streamed("one")
        types = [event["type"] async for event in run]
        first = await run.result_async()
        second = await thread.run_async("two")
        return types, first, second

    types, first, second = asyncio.run(main())
    assert types[0] == "thread.started"
    assert types[-1] == "turn.completed"
    assert "item.delta" in types
    assert first.final_response == "first, streamed"
    assert second.final_response == "second, awaited"
    # The second turn of the thread carries the first one's conversation.
    texts = input_texts(mock.requests()[1])
    assert texts[-3:] == ["one", "first, streamed", "two"]


def test_a_failed_turn_is_an_event_when_streaming_and_an_error_from_result(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push({"kind": "http", "status": 400, "body": {"error": {"message": "bad model"}}})
    run = make_agent().start_thread().run_streamed("hi")
    events = list(run)
    assert events[-1]["type"] == "turn.failed"
    assert events[-1]["error"]["code"] == "model_api"
    with pytest.raises(codeloop.APIError, match="bad model") as info:
        run.result()
    assert info.value.status == 400
    assert info.value.code == "model_api"


def test_input_as_a_list_of_parts(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(text_turn("ok"))
    make_agent().start_thread().run(
        [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}]
    )
    (request,) = mock.requests()
    user = request["body"]["input"][-1]
    assert [c["text"] for c in user["content"]] == ["part one", "part two"]


def test_resume_thread_continues_from_the_rollout(
    mock: MockModel, make_agent: AgentFactory, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions"
    mock.push(text_turn("I will remember 1234"), text_turn("you said 1234"))
    first_agent = make_agent(ephemeral=False, session_dir=sessions)
    thread = first_agent.start_thread()
    thread.run("remember 1234")

    # Another agent object, as after a restart, on the same session directory.
    again = make_agent(ephemeral=False, session_dir=sessions).resume_thread(thread.id)
    assert again.id == thread.id
    assert again.usage == thread.usage
    result = again.run("what did I say?")
    assert result.final_response == "you said 1234"
    texts = input_texts(mock.requests()[1])
    assert texts[-3:] == ["remember 1234", "I will remember 1234", "what did I say?"]

    with pytest.raises(codeloop.CodeloopError):
        make_agent(ephemeral=False, session_dir=sessions).resume_thread("no-such-thread")
    with pytest.raises(codeloop.ConfigError, match="ephemeral"):
        make_agent().resume_thread(thread.id)


def test_a_second_run_on_a_busy_thread_fails_with_busy_error(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    # The first turn streams a delta, then stalls until interrupted.
    mock.push(sse(created(), text_delta("thinking"), stall_after=2))
    thread = make_agent().start_thread()
    first = thread.run_streamed("one")
    for event in first:
        if event["type"] == "item.delta":
            break
    with pytest.raises(codeloop.BusyError):
        thread.run("two")
    first.interrupt()
    with pytest.raises(codeloop.TurnInterrupted):
        first.result()
    assert [e["type"] for e in first] == []


def test_with_block_interrupts_an_unfinished_run(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(sse(created(), text_delta("partial"), stall_after=2), text_turn("after"))
    thread = make_agent().start_thread()
    with thread.run_streamed("one") as run:
        for event in run:
            if event["type"] == "item.delta":
                break
    with pytest.raises(codeloop.TurnInterrupted):
        run.result()
    # The thread is free again at once.
    assert thread.run("two").final_response == "after"


def test_options_reach_the_core_and_bad_options_raise_config_error(
    make_agent: AgentFactory, workdir: Path
) -> None:
    agent = make_agent(sandbox="workspace-write", approval_policy="untrusted", max_turns=3)
    options = agent.options
    assert options["sandbox"] == "workspace-write"
    assert options["approval_policy"] == "untrusted"
    assert options["max_turns"] == 3
    assert options["api_key"] == "<redacted>"
    assert agent.cwd == str(workdir.resolve())
    assert agent.model == "mock-model"

    with pytest.raises(codeloop.ConfigError, match="read-only"):
        make_agent(sandbox="no-such-mode")
    with pytest.raises(codeloop.ConfigError, match="not a directory"):
        make_agent(cwd=workdir / "missing")
    with pytest.raises(ValueError, match="unknown hook"):
        make_agent(hooks={"BeforeEverything": lambda e: None})
    with pytest.raises(TypeError):
        make_agent(no_such_option=1)
