"""Issue 8 through the Python SDK: structured output (dict schemas,
dataclasses, pydantic models), budgets, steering, compaction and forks,
against the mock model server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional

import pydantic
import pytest
from conftest import AgentFactory
from mockmodel import (
    MockModel,
    call_turn,
    created,
    function_call,
    input_texts,
    shell_call,
    sse,
    text_delta,
    text_turn,
)

import codeloop

# ------------------------------------------------------- structured output

SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}


@dataclasses.dataclass
class Finding:
    path: str
    line: int


@dataclasses.dataclass
class Review:
    verdict: Literal["pass", "fail"]
    findings: List[Finding]
    note: Optional[str]


class ReviewModel(pydantic.BaseModel):
    verdict: Literal["pass", "fail"]
    findings: List[Dict[str, Any]]
    note: Optional[str] = None


REVIEW = {"verdict": "fail", "findings": [{"path": "a.py", "line": 3}], "note": None}


def sent_schema(request: Dict[str, Any]) -> Any:
    text_format = request["body"]["text"]["format"]
    assert text_format["type"] == "json_schema"
    return text_format["schema"]


def test_a_dict_schema_gives_the_parsed_output(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(text_turn(json.dumps({"answer": "42", "confidence": 0.9})), text_turn("plain"))
    thread = make_agent().start_thread()
    result = thread.run("answer", output_schema=SCHEMA)
    assert result.output == {"answer": "42", "confidence": 0.9}
    assert sent_schema(mock.requests()[0]) == SCHEMA
    # Per run: the next run has no schema and no output.
    assert thread.run("again").output is None
    assert "text" not in mock.requests()[1]["body"]


def test_a_dataclass_output_type_gives_an_instance(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(text_turn(json.dumps(REVIEW)))
    result = make_agent().start_thread().run("review", output_type=Review)
    assert result.output == Review(verdict="fail", findings=[Finding("a.py", 3)], note=None)
    schema = sent_schema(mock.requests()[0])
    assert schema["required"] == ["verdict", "findings", "note"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["verdict"] == {"enum": ["pass", "fail"]}
    assert schema["$defs"]["Finding"]["properties"]["line"] == {"type": "integer"}


def test_a_pydantic_model_as_output_schema_async(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(text_turn(json.dumps(REVIEW)))

    async def main() -> codeloop.RunResult:
        return await make_agent().start_thread().run_async("review", output_schema=ReviewModel)

    output = asyncio.run(main()).output
    assert isinstance(output, ReviewModel)
    assert output.verdict == "fail"
    assert output.findings == [{"path": "a.py", "line": 3}]
    schema = sent_schema(mock.requests()[0])
    # Closed for strict structured outputs: every property required.
    assert schema["required"] == ["verdict", "findings", "note"]
    assert schema["additionalProperties"] is False
    assert "default" not in schema["properties"]["note"]


def test_an_agent_level_output_type_applies_to_its_threads(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(text_turn(json.dumps(REVIEW)), text_turn(json.dumps(REVIEW)))
    agent = make_agent(output_schema=Review)
    assert isinstance(agent.start_thread().run("review").output, Review)
    # run_streamed too, and a per-run dict schema wins.
    run = agent.start_thread().run_streamed("review", output_schema={"type": "object"})
    assert [e["type"] for e in run][-1] == "turn.completed"
    assert run.result().output == REVIEW


def test_an_answer_that_does_not_match_raises_output_invalid(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(text_turn(json.dumps({"answer": 5, "confidence": 1})))
    with pytest.raises(codeloop.OutputInvalidError) as info:
        make_agent().start_thread().run("answer", output_schema=SCHEMA)
    assert info.value.code == "output_invalid"
    assert any("/answer" in e for e in info.value.errors), info.value.errors
    assert isinstance(info.value, ValueError)


def test_output_schema_retries_ask_the_model_again(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(text_turn("not json"), text_turn(json.dumps({"answer": "ok", "confidence": 1})))
    result = make_agent(output_schema_retries=1).start_thread().run("answer", output_schema=SCHEMA)
    assert result.output == {"answer": "ok", "confidence": 1}
    first, second = mock.requests()
    assert len(input_texts(second)) > len(input_texts(first))
    assert "not JSON" in input_texts(second)[-1]


def test_output_type_must_be_a_model_or_dataclass(make_agent: AgentFactory) -> None:
    thread = make_agent().start_thread()
    with pytest.raises(TypeError, match="output_type"):
        thread.run("x", output_type=dict)
    with pytest.raises(TypeError, match="output_schema"):
        thread.run("x", output_schema="{}")  # type: ignore[arg-type]


# ----------------------------------------------------------------- budgets


def test_max_tokens_per_run_stops_the_run_and_keeps_the_thread(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    # Each mock reply reports 110 tokens.
    mock.push(call_turn(shell_call("c1", "true")), text_turn("next run"))
    thread = make_agent(sandbox="danger-full-access").start_thread()
    with pytest.raises(codeloop.BudgetExceededError, match="max_tokens") as info:
        thread.run("loop", max_tokens=100)
    assert info.value.code == "budget_exceeded"
    assert len(mock.requests()) == 1
    # The budget was this run's only: the thread runs on.
    assert thread.run("go on").final_response == "next run"


def test_a_timeout_ends_a_stalled_run_as_a_failed_turn(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(sse(created(), text_delta("thinking..."), stall_after=2))
    run = make_agent(timeout_ms=300).start_thread().run_streamed("wait")
    events = list(run)
    assert events[-1]["type"] == "turn.failed"
    assert events[-1]["error"].get("code") == "budget_exceeded"
    with pytest.raises(codeloop.BudgetExceededError, match="timeout_ms"):
        run.result()


def test_max_cost_uses_the_given_prices(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(call_turn(shell_call("c1", "true")))
    agent = make_agent(
        sandbox="danger-full-access",
        model_prices={"mock-model": {"input": 1000.0, "output": 1000.0}},
        max_cost_usd=0.01,
    )
    with pytest.raises(codeloop.BudgetExceededError, match="max_cost_usd"):
        agent.start_thread().run("spend")


# ------------------------------------------------------------ steer, compact, fork


def test_steer_adds_input_to_the_running_turn(mock: MockModel, make_agent: AgentFactory) -> None:
    threads: List[codeloop.Thread] = []
    busy: List[codeloop.BusyError] = []

    @codeloop.tool
    def check() -> str:
        """Check the work."""
        # The turn is running (it waits for this tool): steer it from here.
        threads[0].steer("also update the changelog")
        try:
            threads[0].compact()
        except codeloop.BusyError as exc:
            busy.append(exc)
        return "checked"

    mock.push(call_turn(function_call("c1", "check", {})), text_turn("done, changelog too"))
    thread = make_agent(tools=[check]).start_thread()
    threads.append(thread)
    with pytest.raises(codeloop.NoActiveTurnError):
        thread.steer("nobody is listening")
    result = thread.run("do the work")
    assert result.final_response == "done, changelog too"
    assert len(busy) == 1  # no compaction while the turn runs
    first, second = mock.requests()
    assert "also update the changelog" in input_texts(second)
    assert "nobody is listening" not in input_texts(second)
    assert "also update the changelog" not in input_texts(first)


def test_compact_replaces_the_history_with_a_summary(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(
        text_turn("first answer"),
        text_turn("SUMMARY: the user asked twice"),
        text_turn("after compaction"),
        text_turn("SUMMARY: again"),
    )
    thread = make_agent().start_thread()
    empty = thread.compact()
    assert empty == {"trigger": "manual", "tokens_before": 0, "items_before": 0, "items_after": 0}
    thread.run("first question")
    compaction = thread.compact()
    assert compaction["trigger"] == "manual"
    assert compaction["tokens_before"] == 110
    assert compaction["items_before"] > 0
    thread.run("second question")
    third = "\n".join(input_texts(mock.requests()[2]))
    assert "SUMMARY: the user asked twice" in third
    assert "first answer" not in third

    async def again() -> codeloop.Compaction:
        return await thread.compact_async()

    assert asyncio.run(again())["trigger"] == "manual"
    assert len(mock.requests()) == 4


def test_auto_compaction_is_an_event(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(
        call_turn(shell_call("c1", "true")),
        text_turn("SUMMARY: ran true"),
        text_turn("done"),
    )
    agent = make_agent(sandbox="danger-full-access", auto_compact_token_limit=50)
    events = list(agent.start_thread().run_streamed("work"))
    compacted = [e for e in events if e["type"] == "thread.compacted"]
    assert len(compacted) == 1
    event = compacted[0]
    assert event["type"] == "thread.compacted"
    assert event["trigger"] == "auto"
    assert event["tokens_before"] >= 50
    assert events[-1]["type"] == "turn.completed"
    assert "SUMMARY: ran true" in "\n".join(input_texts(mock.requests()[2]))


def test_fork_thread_at_a_turn(mock: MockModel, make_agent: AgentFactory, tmp_path: Path) -> None:
    mock.push(text_turn("one"), text_turn("two"), text_turn("forked"), text_turn("whole"))
    agent = make_agent(ephemeral=False, session_dir=tmp_path / "sessions")
    source = agent.start_thread()
    source.run("first turn")
    source.run("second turn")

    fork = agent.fork_thread(source.id, at_turn=1)
    assert fork.id != source.id
    assert fork.run("after the fork").final_response == "forked"
    texts = input_texts(mock.requests()[2])
    assert "first turn" in texts
    assert "second turn" not in texts

    whole = agent.fork_thread(source.id)
    whole.run("all of it")
    assert "second turn" in input_texts(mock.requests()[3])

    with pytest.raises(codeloop.ConfigError):
        agent.fork_thread(source.id, at_turn=5)
    with pytest.raises(codeloop.ConfigError, match="ephemeral"):
        make_agent().fork_thread(source.id)
