"""Core errors become the exception hierarchy of codeloop.errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Type

import pytest
from conftest import AgentFactory
from mockmodel import (
    ROOT,
    MockModel,
    call_turn,
    created,
    function_call,
    http_error,
    shell_call,
    sse,
    text_delta,
    text_turn,
)

import codeloop
from codeloop import _native

EXPECTED: Dict[str, Type[codeloop.CodeloopError]] = {
    "model_api": codeloop.APIError,
    "unauthorized": codeloop.AuthenticationError,
    "context_window_exceeded": codeloop.ContextWindowError,
    "quota_exceeded": codeloop.QuotaExceededError,
    "stream": codeloop.StreamError,
    "replay": codeloop.ReplayError,
    "interrupted": codeloop.TurnInterrupted,
    "budget_exceeded": codeloop.BudgetExceededError,
    "sandbox": codeloop.SandboxError,
    "config": codeloop.ConfigError,
    "host": codeloop.HostCallbackError,
    "busy": codeloop.BusyError,
    "output_invalid": codeloop.OutputInvalidError,
    "no_active_turn": codeloop.NoActiveTurnError,
    "io": codeloop.LocalIOError,
    "internal": codeloop.InternalError,
}


def schema_error_codes() -> set[str]:
    schema = json.loads((ROOT / "core/protocol.schema.json").read_text())
    return {variant["const"] for variant in schema["$defs"]["ErrorCode"]["oneOf"]}


def test_every_core_error_code_has_its_exception_class() -> None:
    assert set(EXPECTED) == schema_error_codes()
    for code, cls in EXPECTED.items():
        error = _native.exception_for_code(code, "something went wrong")
        assert type(error) is cls, code
        assert isinstance(error, codeloop.CodeloopError)
        assert error.code == cls.code == code
        if code not in ("interrupted", "busy", "no_active_turn"):  # fixed messages
            assert "something went wrong" in str(error)
    model_errors = {"model_api", "unauthorized", "context_window_exceeded", "quota_exceeded"}
    for code in model_errors | {"stream", "replay"}:
        assert issubclass(EXPECTED[code], codeloop.ModelError)
    assert not issubclass(codeloop.TurnInterrupted, InterruptedError)
    assert issubclass(codeloop.ConfigError, ValueError)
    # The validation messages survive a trip through a turn.failed event.
    invalid = _native.exception_for_code("output_invalid", "at /a: 1 is not a string; at /b: x")
    assert isinstance(invalid, codeloop.OutputInvalidError)
    assert invalid.errors == ["at /a: 1 is not a string", "at /b: x"]


@pytest.mark.parametrize(
    ("reply", "cls", "text"),
    [
        (http_error(401, "bad key"), codeloop.AuthenticationError, "bad key"),
        (http_error(404, "no such model"), codeloop.APIError, "no such model"),
        (
            http_error(400, "too long", code="context_length_exceeded"),
            codeloop.ContextWindowError,
            "too long",
        ),
        (
            http_error(429, "pay up", code="insufficient_quota"),
            codeloop.QuotaExceededError,
            "pay up",
        ),
        (sse(created(), text_delta("cut"), drop_after=2), codeloop.StreamError, "stream"),
    ],
)
def test_model_failures_map_to_model_errors(
    mock: MockModel,
    make_agent: AgentFactory,
    reply: dict[str, object],
    cls: Type[codeloop.CodeloopError],
    text: str,
) -> None:
    mock.push(reply)
    # Without auto_compact=False a full context is compacted and asked again.
    with pytest.raises(cls, match=text) as info:
        make_agent(auto_compact=False).start_thread().run("hi")
    assert isinstance(info.value, codeloop.ModelError)
    if cls is codeloop.APIError:
        assert info.value.status == 404  # type: ignore[attr-defined]


def test_budget_exceeded(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(call_turn(shell_call("c1", "true")))
    agent = make_agent(sandbox="danger-full-access", max_turns=1)
    with pytest.raises(codeloop.BudgetExceededError, match="max_turns"):
        agent.start_thread().run("loop")


def test_replay_mismatch(make_agent: AgentFactory) -> None:
    agent = make_agent(
        provider="replay", cassette=ROOT / "examples/demo/cassette.json", model="gpt-5.4"
    )
    with pytest.raises(codeloop.ReplayError, match="differs"):
        agent.start_thread().run("a prompt the cassette never saw")


def test_local_io_error(mock: MockModel, make_agent: AgentFactory, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the session directory should be")
    mock.push(text_turn("unreached"))
    agent = make_agent(ephemeral=False, session_dir=blocker)
    with pytest.raises(codeloop.LocalIOError) as info:
        agent.start_thread().run("hi")
    assert isinstance(info.value, OSError)


def test_host_tool_errors_never_fail_the_turn(mock: MockModel, make_agent: AgentFactory) -> None:
    @codeloop.tool
    def not_json() -> object:
        """Returns something JSON cannot hold."""
        return {1, 2}

    mock.push(call_turn(function_call("c1", "not_json", {})), text_turn("fine"))
    result = make_agent(tools=[not_json]).start_thread().run("go")
    assert result.final_response == "fine"


def test_apply_patch_errors(tmp_path: Path) -> None:
    with pytest.raises(codeloop.PatchError, match="does not exist") as info:
        codeloop.apply_patch(
            "*** Begin Patch\n*** Delete File: gone.txt\n*** End Patch\n", tmp_path
        )
    assert info.value.tree_untouched is True
    assert isinstance(info.value, ValueError)
