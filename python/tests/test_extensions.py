"""Issue 7 through the Python SDK: a real MCP server's tools, command hooks
and Python hook callbacks chained by the core, AGENTS.md files reaching the
model. Real subprocesses and files; the model is the mock server."""

from __future__ import annotations

import asyncio
import json
import os
import select
import typing
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from conftest import AgentFactory
from mockmodel import (
    ROOT,
    MockModel,
    call_turn,
    function_call,
    input_texts,
    shell_call,
    text_turn,
    tool_names,
    tool_outputs,
)

import codeloop
from codeloop import types as t

EVERYTHING = ROOT / "tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"


def everything_server() -> codeloop.McpServerConfig:
    assert EVERYTHING.is_file(), f"{EVERYTHING} is missing: run `make mcp-deps`"
    return {"command": "node", "args": [str(EVERYTHING), "stdio"], "required": True}


def test_an_mcp_server_tool_call_is_an_mcp_tool_call_item(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(
        call_turn(function_call("c1", "mcp__everything__echo", {"message": "hi there"})),
        text_turn("echoed"),
    )
    agent = make_agent(mcp_servers={"everything": everything_server()})
    run = agent.start_thread().run_streamed("echo something")
    events = list(run)
    result = run.result()

    assert result.final_response == "echoed"
    started = [
        e["item"]
        for e in events
        if e["type"] == "item.started" and e["item"]["type"] == "mcp_tool_call"
    ]
    assert [i["status"] for i in started] == ["in_progress"]
    (item,) = [i for i in result.items if i["type"] == "mcp_tool_call"]
    assert item["type"] == "mcp_tool_call"  # narrows the union for the type checker
    assert (item["server"], item["tool"], item["status"]) == ("everything", "echo", "completed")
    assert item["arguments"] == {"message": "hi there"}
    mcp_result = item.get("result")
    assert mcp_result is not None
    assert mcp_result["content"][0]["text"] == "Echo: hi there"
    # The item has exactly the keys its TypedDict declares.
    hints = typing.get_type_hints(t.McpToolCallItem)
    assert t.McpToolCallItem.__required_keys__ <= set(item) <= set(hints)

    first, second = mock.requests()
    assert "mcp__everything__echo" in tool_names(first)
    assert "Echo: hi there" in tool_outputs(second)["c1"]


def test_a_required_mcp_server_that_cannot_start_fails_the_run(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    missing = {"command": str(workdir / "no-such-server"), "required": True}
    agent = make_agent(mcp_servers={"broken": missing})
    with pytest.raises(codeloop.ConfigError, match="broken"):
        agent.start_thread().run("hi")
    assert mock.requests() == []


def pid_with_marker(marker: str) -> Optional[int]:
    """The process whose environment holds ``CODELOOP_MCP_MARKER=marker``."""
    needle = f"CODELOOP_MCP_MARKER={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    return int(entry)
        except OSError:
            continue
    return None


def wait_dead(pid: int, within: float) -> bool:
    """Whether process ``pid`` terminates within ``within`` seconds (a
    zombie counts), waiting on a pidfd, which becomes readable when it exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(int(within * 1000)))
    finally:
        os.close(fd)


def test_close_shuts_the_servers_down_while_threads_live(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    marker = f"close-{uuid.uuid4().hex}"
    server = everything_server()
    server["env"] = {"CODELOOP_MCP_MARKER": marker}
    mock.push(text_turn("up"))
    with make_agent(mcp_servers={"everything": server}) as agent:
        thread = agent.start_thread()
        assert thread.run("start").final_response == "up"
        pid = pid_with_marker(marker)
        assert pid is not None, "the server runs"

        agent.close()
        assert wait_dead(pid, 10), f"server {pid} outlived close()"
        # The thread is still there; its next run says why it cannot go on.
        with pytest.raises(codeloop.ConfigError, match="closed"):
            thread.run("again")
        asyncio.run(agent.close_async())  # idempotent, and so is leaving the block
    assert len(mock.requests()) == 1


def hook_script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_command_hooks_and_callbacks_are_chained_by_the_core(
    mock: MockModel, make_agent: AgentFactory, workdir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "command-hook.log"
    command = hook_script(tmp_path / "record.sh", f"cat >> {log}\necho >> {log}")
    seen: Dict[str, List[str]] = {"rewrite": [], "guard": [], "after": [], "patch": []}

    def rewrite(event: codeloop.HookEvent) -> codeloop.HookOutcome | None:
        assert event["hook_event_name"] == "PreToolUse"
        assert "callback_id" not in event
        command = event["tool_input"]["command"]
        seen["rewrite"].append(command)
        if "a.txt" in command:
            return {"updated_input": {**event["tool_input"], "command": "touch a2.txt"}}
        return None

    async def guard(event: codeloop.HookEvent) -> codeloop.HookOutcome:
        assert event["hook_event_name"] == "PreToolUse"
        await asyncio.sleep(0)
        seen["guard"].append(event["tool_input"]["command"])
        if "b.txt" in event["tool_input"]["command"]:
            return {"decision": "deny", "reason": "b is off limits"}
        return {"decision": "allow"}

    def after(event: codeloop.HookEvent) -> None:
        assert event["hook_event_name"] == "PreToolUse"
        seen["after"].append(event["tool_input"]["command"])

    def patch_only(event: codeloop.HookEvent) -> None:
        seen["patch"].append(event["hook_event_name"])

    mock.push(
        call_turn(shell_call("c1", "touch a.txt"), shell_call("c2", "touch b.txt")),
        text_turn("done"),
    )
    agent = make_agent(
        sandbox="danger-full-access",
        hooks={
            "PreToolUse": [
                codeloop.HookMatcher(
                    matcher="Bash",
                    hooks=[{"type": "command", "command": command, "timeout": 10}, rewrite],
                ),
                {"matcher": "apply_patch", "hooks": [patch_only]},
                guard,
                codeloop.HookMatcher(hooks=[after]),
            ]
        },
    )
    result = agent.start_thread().run("make files")

    assert result.final_response == "done"
    assert (workdir / "a2.txt").exists()
    assert not (workdir / "a.txt").exists()
    assert not (workdir / "b.txt").exists()
    # The command hook ran first, for both calls, with the Codex hook input.
    inputs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert [i["tool_input"]["command"] for i in inputs] == ["touch a.txt", "touch b.txt"]
    assert {i["hook_event_name"] for i in inputs} == {"PreToolUse"}
    # The input rewritten by one callback is what the next ones see.
    assert seen["rewrite"] == ["touch a.txt", "touch b.txt"]
    assert seen["guard"] == ["touch a2.txt", "touch b.txt"]
    # A deny stops the chain: `after` never saw the denied call.
    assert seen["after"] == ["touch a2.txt"]
    # A matcher that does not match keeps its hooks out.
    assert seen["patch"] == []
    assert "b is off limits" in tool_outputs(mock.requests()[1])["c2"]


def test_a_hook_can_stop_the_turn(mock: MockModel, make_agent: AgentFactory) -> None:
    calls: List[str] = []

    def stop(event: codeloop.HookEvent) -> codeloop.HookOutcome:
        calls.append("stop")
        return {"stop": True, "stop_reason": "enough for today", "system_message": "stopped"}

    def never(event: codeloop.HookEvent) -> None:
        calls.append("never")

    mock.push(call_turn(shell_call("c1", "echo hi")), text_turn("unreached"))
    agent = make_agent(sandbox="danger-full-access", hooks={"PostToolUse": [stop, never]})
    run = agent.start_thread().run_streamed("go")
    events = list(run)
    assert calls == ["stop"]
    messages = [e["message"] for e in events if e["type"] == "error"]
    assert any("stopped" in m for m in messages), messages
    assert len(mock.requests()) == 1  # the model was not asked again


def test_approvals_take_booleans_and_decision_names_as_the_callback_gives_them(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    answers: Dict[str, Any] = {"one": True, "two": "approve_for_session", "three": False}

    def policy(request: codeloop.ApprovalRequest) -> Any:
        assert request["kind"] == "command"
        return next(v for k, v in answers.items() if k in " ".join(request["command"]))

    mock.push(
        call_turn(
            shell_call("c1", "touch one"),
            shell_call("c2", "touch two"),
            shell_call("c3", "touch three"),
        ),
        text_turn("ok"),
    )
    agent = make_agent(
        sandbox="danger-full-access", approval_policy="untrusted", can_use_tool=policy
    )
    agent.start_thread().run("go")
    assert sorted(p.name for p in workdir.iterdir()) == ["one", "two"]


def test_agents_md_files_reach_the_model(
    mock: MockModel, make_agent: AgentFactory, workdir: Path, home: Path, tmp_path: Path
) -> None:
    (workdir / ".git").mkdir()
    (workdir / "AGENTS.md").write_text("Run the tests with `make check`.\n")
    (workdir / "pkg").mkdir()
    (workdir / "pkg" / "AGENTS.md").write_text("This package is frozen.\n")
    (home / "AGENTS.md").write_text("Answer briefly.\n")
    extra = tmp_path / "extra.md"
    extra.write_text("Extra instructions from a file.\n")

    mock.push(text_turn("ok"), text_turn("ok"))
    agent = make_agent(cwd=workdir / "pkg", instruction_files=[extra])
    agent.start_thread().run("hi")
    texts = "\n".join(input_texts(mock.requests()[0]))
    assert "# AGENTS.md instructions for" in texts
    for line in (
        "Answer briefly.",
        "Run the tests with `make check`.",
        "This package is frozen.",
        "Extra instructions from a file.",
    ):
        assert line in texts
    # Root first, then the nearer directory.
    assert texts.index("make check") < texts.index("This package is frozen.")

    make_agent(cwd=workdir / "pkg", project_docs=False).start_thread().run("hi")
    assert "make check" not in "\n".join(input_texts(mock.requests()[1]))


def test_config_files_under_codeloop_home_are_read_and_can_be_skipped(
    mock: MockModel, make_agent: AgentFactory, home: Path
) -> None:
    (home / "config.toml").write_text('developer_instructions = "from the config file"\n')
    mock.push(text_turn("ok"), text_turn("ok"), text_turn("ok"))
    make_agent().start_thread().run("hi")
    make_agent(load_config_files=False).start_thread().run("hi")
    make_agent(config_overrides={"developer_instructions": "from an override"}).start_thread().run(
        "hi"
    )
    with_file, without, overridden = ("\n".join(input_texts(r)) for r in mock.requests())
    assert "from the config file" in with_file
    assert "from the config file" not in without
    assert "from an override" in overridden
    assert "from the config file" not in overridden


def test_an_untrusted_project_config_is_a_warning_until_trusted(
    mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    (workdir / ".git").mkdir()
    (workdir / ".codeloop").mkdir()
    (workdir / ".codeloop" / "config.toml").write_text(
        'developer_instructions = "from the project config"\n'
    )
    untrusted = make_agent()
    (warning,) = untrusted.config_warnings
    assert "not trusted" in warning
    assert "config.toml" in warning
    trusted = make_agent(trust_project=True)
    assert trusted.config_warnings == []

    mock.push(text_turn("ok"), text_turn("ok"))
    events = list(untrusted.start_thread().run_streamed("hi"))
    assert any(e["type"] == "error" and "not trusted" in e["message"] for e in events)
    trusted.start_thread().run("hi")
    first, second = ("\n".join(input_texts(r)) for r in mock.requests())
    assert "from the project config" not in first
    assert "from the project config" in second
