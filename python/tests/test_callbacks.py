"""can_use_tool and hooks: Python callables (sync and async) that approve,
deny or change what the agent does; a callback that raises fails the turn
with HostCallbackError, never a crash or a hang."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from conftest import AgentFactory
from mockmodel import MockModel, call_turn, input_texts, shell_call, text_turn, tool_outputs

import codeloop


def test_can_use_tool_approves_and_denies_commands_under_untrusted(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    requests: List[Dict[str, Any]] = []

    def policy(request: codeloop.ApprovalRequest) -> bool:
        requests.append(dict(request))
        assert request["kind"] == "command"
        return "allowed" in " ".join(request["command"])

    mock.push(
        call_turn(shell_call("c1", "touch allowed.txt"), shell_call("c2", "touch denied.txt")),
        text_turn("tried both"),
    )
    agent = make_agent(
        sandbox="danger-full-access", approval_policy="untrusted", can_use_tool=policy
    )
    thread = agent.start_thread()
    result = thread.run("create the files")

    assert result.final_response == "tried both"
    assert (workdir / "allowed.txt").exists()
    assert not (workdir / "denied.txt").exists()
    assert [r["call_id"] for r in requests] == ["c1", "c2"]
    assert requests[0]["thread_id"] == thread.id
    assert requests[0]["cwd"] == str(workdir.resolve())
    assert "touch allowed.txt" in " ".join(requests[0]["command"])
    statuses = {i["command"]: i["status"] for i in result.items if i["type"] == "command_execution"}
    assert sorted(statuses.values()) == ["completed", "declined"]
    assert "rejected by user" in tool_outputs(mock.requests()[1])["c2"]


def test_async_can_use_tool_and_abort(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    async def policy(request: codeloop.ApprovalRequest) -> codeloop.ApprovalDecision:
        await asyncio.sleep(0)
        return "abort"

    mock.push(call_turn(shell_call("c1", "touch never.txt")))
    agent = make_agent(
        sandbox="danger-full-access", approval_policy="untrusted", can_use_tool=policy
    )
    with pytest.raises(codeloop.TurnInterrupted):
        agent.start_thread().run("try")
    assert not (workdir / "never.txt").exists()
    # Aborting ends the turn: the model is not asked again.
    assert len(mock.requests()) == 1


def test_without_can_use_tool_approvals_are_denied(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    mock.push(call_turn(shell_call("c1", "touch nope.txt")), text_turn("ok"))
    agent = make_agent(sandbox="danger-full-access", approval_policy="untrusted")
    agent.start_thread().run("try")
    assert not (workdir / "nope.txt").exists()


def test_pre_tool_use_hooks_deny_and_change_input(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    seen: List[Dict[str, Any]] = []

    def guard(event: codeloop.HookEvent) -> codeloop.HookOutcome | None:
        seen.append(dict(event))
        assert event["hook_event_name"] == "PreToolUse"
        command = event["tool_input"]["command"]
        if "rm " in command:
            return {"decision": "deny", "reason": "no deleting"}
        if "old.txt" in command:
            return {"updated_input": {"command": command.replace("old.txt", "new.txt")}}
        return {"decision": "allow"}

    async def audit(event: codeloop.HookEvent) -> None:
        # Runs after guard, seeing the input as guard left it.
        seen.append({"audit": event["tool_input"]["command"]})

    (workdir / "keep.txt").write_text("keep")
    mock.push(
        call_turn(
            shell_call("c1", "rm keep.txt"),
            shell_call("c2", "touch old.txt"),
            shell_call("c3", "touch allowed.txt"),
        ),
        text_turn("done"),
    )
    agent = make_agent(sandbox="danger-full-access", hooks={"PreToolUse": [guard, audit]})
    thread = agent.start_thread()
    thread.run("clean up")

    assert (workdir / "keep.txt").exists()
    assert (workdir / "new.txt").exists()
    assert not (workdir / "old.txt").exists()
    assert (workdir / "allowed.txt").exists()
    outputs = tool_outputs(mock.requests()[1])
    assert "the PreToolUse hook blocked this call: no deleting" in outputs["c1"]
    assert seen[0]["tool_name"] == "Bash"
    assert seen[0]["session_id"] == thread.id
    # A deny stops the chain: audit saw only the second call, rewritten.
    assert {"audit": "touch new.txt"} in seen
    assert not any(s.get("audit", "").startswith("rm") for s in seen)


def test_lifecycle_hooks_add_context_block_prompts_and_keep_going(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    events: List[str] = []
    stops: List[bool] = []

    def on_start(event: codeloop.HookEvent) -> codeloop.HookOutcome:
        events.append(event["hook_event_name"])
        return {"additional_context": "the project uses tabs"}

    def on_prompt(event: codeloop.HookEvent) -> codeloop.HookOutcome | None:
        events.append(event["hook_event_name"])
        if "secret" in event["prompt"]:
            return {"decision": "deny", "reason": "prompt mentions a secret"}
        return None

    def on_stop(event: codeloop.HookEvent) -> codeloop.HookOutcome | None:
        assert event["hook_event_name"] == "Stop"
        stops.append(event["stop_hook_active"])
        if not event["stop_hook_active"]:
            return {"decision": "deny", "reason": "also write the changelog"}
        return None

    mock.push(text_turn("first answer"), text_turn("changelog written"))
    agent = make_agent(
        hooks={"SessionStart": on_start, "UserPromptSubmit": on_prompt, "Stop": on_stop}
    )
    thread = agent.start_thread()
    result = thread.run("do the work")

    assert result.final_response == "changelog written"
    assert stops == [False, True]
    assert events == ["SessionStart", "UserPromptSubmit"]
    first, second = mock.requests()
    assert "the project uses tabs" in input_texts(first)
    assert input_texts(second)[-1] == "also write the changelog"

    with pytest.raises(codeloop.HostCallbackError, match="prompt mentions a secret"):
        thread.run("print the secret")
    assert len(mock.requests()) == 2  # the blocked prompt never reached the model


def test_an_exception_in_a_hook_fails_the_turn_with_its_cause(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    boom = ValueError("the hook broke")

    def broken(event: codeloop.HookEvent) -> None:
        raise boom

    mock.push(call_turn(shell_call("c1", "echo hi")), text_turn("unreached"))
    agent = make_agent(sandbox="danger-full-access", hooks={"PreToolUse": broken})
    thread = agent.start_thread()
    run = thread.run_streamed("go")
    events = list(run)
    assert events[-1]["type"] == "turn.failed"
    assert events[-1]["error"]["code"] == "host"
    with pytest.raises(codeloop.HostCallbackError, match="the hook broke") as info:
        run.result()
    assert info.value.__cause__ is boom
    assert info.value.code == "host"


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_an_exception_in_can_use_tool_fails_the_turn_with_its_cause(
    mock: MockModel, make_agent: AgentFactory, flavour: str
) -> None:
    class PolicyError(Exception):
        pass

    def sync_policy(request: codeloop.ApprovalRequest) -> bool:
        raise PolicyError("cannot decide")

    async def async_policy(request: codeloop.ApprovalRequest) -> bool:
        await asyncio.sleep(0)
        raise PolicyError("cannot decide")

    mock.push(call_turn(shell_call("c1", "touch x")), text_turn("unreached"))
    agent = make_agent(
        sandbox="danger-full-access",
        approval_policy="untrusted",
        can_use_tool=sync_policy if flavour == "sync" else async_policy,
    )
    with pytest.raises(codeloop.HostCallbackError, match="can_use_tool raised") as info:
        agent.start_thread().run("go")
    assert isinstance(info.value.__cause__, PolicyError)


def test_an_invalid_callback_answer_is_a_clear_error(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(call_turn(shell_call("c1", "touch x")))
    agent = make_agent(
        sandbox="danger-full-access",
        approval_policy="untrusted",
        can_use_tool=lambda request: "maybe",
    )
    # The core reads the answer and names the callback.
    with pytest.raises(codeloop.HostCallbackError, match='can_use_tool answered "maybe"'):
        agent.start_thread().run("go")

    mock.reset()
    mock.push(text_turn("x"))
    agent = make_agent(hooks={"UserPromptSubmit": lambda event: {"decision": "perhaps"}})
    with pytest.raises(codeloop.HostCallbackError, match="perhaps"):
        agent.start_thread().run("go")


def test_hooks_and_approvals_under_asyncio_on_many_threads(
    spawn_mock: Callable[[], MockModel], workdir: Path
) -> None:
    """Async callbacks of concurrent async runs all run on the caller's loop."""
    loops = set()
    lock = threading.Lock()

    async def policy(request: codeloop.ApprovalRequest) -> bool:
        with lock:
            loops.add(asyncio.get_running_loop())
        return True

    async def on_prompt(event: codeloop.HookEvent) -> None:
        with lock:
            loops.add(asyncio.get_running_loop())

    n = 6
    agents = []
    for i in range(n):
        # Each conversation its own model: replies of one server are one queue.
        server = spawn_mock()
        server.push(call_turn(shell_call(f"c{i}", f"touch file-{i}")), text_turn(f"made {i}"))
        agents.append(
            codeloop.Agent(
                model="mock-model",
                base_url=server.base_url,
                api_key="k",
                cwd=workdir,
                ephemeral=True,
                sandbox="danger-full-access",
                approval_policy="untrusted",
                can_use_tool=policy,
                hooks={"UserPromptSubmit": on_prompt},
            )
        )

    async def main() -> List[codeloop.RunResult]:
        return await asyncio.gather(*(a.start_thread().run_async("make a file") for a in agents))

    results = asyncio.run(main())
    assert [r.final_response for r in results] == [f"made {i}" for i in range(n)]
    assert len(loops) == 1
    assert sorted(p.name for p in workdir.glob("file-*")) == [f"file-{i}" for i in range(n)]


def test_post_tool_use_sees_the_result_and_adds_context(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    responses: List[Any] = []

    async def after(event: codeloop.HookEvent) -> codeloop.HookOutcome:
        assert event["hook_event_name"] == "PostToolUse"
        responses.append(event["tool_response"])
        return {"additional_context": "remember to run the linter"}

    mock.push(call_turn(shell_call("c1", "echo from-the-shell")), text_turn("ok"))
    make_agent(sandbox="danger-full-access", hooks={"PostToolUse": after}).start_thread().run("go")
    assert len(responses) == 1
    assert "from-the-shell" in responses[0]
    output = tool_outputs(mock.requests()[1])["c1"]
    assert "from-the-shell" in output
    assert output.endswith("remember to run the linter")
