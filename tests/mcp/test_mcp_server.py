"""`codeloop mcp-server` driven by the official `mcp` Python client over stdio.

The server is the real binary (target/debug/codeloop), its model the mock
model server (tests/mock-server) on loopback; every case runs real turns,
real shell commands and real files in a temporary directory.
"""

from __future__ import annotations

import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List, Literal, Optional

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client, types
from mcp.client.extension import NotificationBinding
from mcp.client.session import ClientRequestContext, ElicitationFnT
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tests"))

import mockmodel  # noqa: E402  (the Python SDK tests' driver of the mock model server)
from mockmodel import MockModel  # noqa: E402

CODELOOP = Path(os.environ.get("CODELOOP_BIN", ROOT / "target/debug/codeloop"))
# Every wait in these tests is on an event; this only turns a hang into a failure.
TIMEOUT = 60


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockModel]:
    if not CODELOOP.is_file():
        raise RuntimeError(f"{CODELOOP} is missing: build it with `cargo build -p codeloop-cli`")
    server = MockModel()
    yield server
    server.close()


@pytest.fixture
def mock(mock_server: MockModel) -> MockModel:
    mock_server.reset()
    return mock_server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The server's CODELOOP_HOME: its config and session store."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


class CodexEvent(BaseModel):
    """The params of a `codex/event` notification."""

    model_config = ConfigDict(extra="allow")
    meta: Dict[str, Any] = Field(alias="_meta")
    id: str
    msg: Dict[str, Any]


class Events:
    """The `codex/event` notifications received, with a way to wait for one."""

    def __init__(self) -> None:
        self.received: List[CodexEvent] = []
        self._changed = anyio.Event()

    async def handle(self, event: CodexEvent) -> None:
        self.received.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    def of_type(self, kind: str) -> List[CodexEvent]:
        return [e for e in self.received if e.msg.get("type") == kind]

    async def wait_for(self, kind: str, item_type: Optional[str] = None) -> CodexEvent:
        with anyio.fail_after(TIMEOUT):
            while True:
                for event in self.of_type(kind):
                    if item_type is None or event.msg["item"]["type"] == item_type:
                        return event
                await self._changed.wait()


@asynccontextmanager
async def connect(
    mock: MockModel,
    home: Path,
    events: Optional[Events] = None,
    elicitation: Optional[ElicitationFnT] = None,
) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=str(CODELOOP),
        args=["mcp-server"],
        env={
            "OPENAI_BASE_URL": mock.base_url,
            "OPENAI_API_KEY": "test-key",
            "CODELOOP_HOME": str(home),
        },
    )
    bindings = (
        []
        if events is None
        else [
            NotificationBinding(method="codex/event", params_type=CodexEvent, handler=events.handle)
        ]
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(
            read, write, elicitation_callback=elicitation, notification_bindings=bindings
        ) as session,
    ):
        await session.initialize()
        yield session


def text_of(result: types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, types.TextContent))


def shell_call(call_id: str, command: str, **extra: Any) -> Dict[str, Any]:
    return mockmodel.function_call(
        call_id, "shell_command", {"command": command, "login": False, **extra}
    )


async def call(
    session: ClientSession, tool: str, arguments: Dict[str, Any]
) -> types.CallToolResult:
    with anyio.fail_after(TIMEOUT):
        return await session.call_tool(tool, arguments)


async def call_ok(
    session: ClientSession, tool: str, arguments: Dict[str, Any]
) -> types.CallToolResult:
    """`call`, which must not be a tool error."""
    result = await call(session, tool, arguments)
    assert not result.is_error, text_of(result)
    return result


# ------------------------------------------------------------------ tools


@pytest.mark.anyio
async def test_lists_the_codex_tools_with_their_schemas(mock: MockModel, home: Path) -> None:
    async with connect(mock, home) as session:
        assert session.server_info is not None
        assert session.server_info.name == "codeloop-mcp-server"
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == {"codex", "codex-reply"}

    codex = tools["codex"].input_schema
    assert codex["required"] == ["prompt"]
    assert set(codex["properties"]) == {
        "prompt",
        "model",
        "cwd",
        "approval-policy",
        "sandbox",
        "config",
        "base-instructions",
        "developer-instructions",
    }
    assert codex["properties"]["sandbox"]["enum"] == [
        "read-only",
        "workspace-write",
        "danger-full-access",
    ]
    assert codex["properties"]["approval-policy"]["enum"] == ["untrusted", "on-request", "never"]

    reply = tools["codex-reply"].input_schema
    assert reply["required"] == ["prompt"]
    assert set(reply["properties"]) == {"prompt", "threadId", "conversationId"}
    for tool in tools.values():
        assert tool.output_schema is not None
        assert tool.output_schema["required"] == ["threadId", "content"]


# ------------------------------------------------------------------ turns


@pytest.mark.anyio
async def test_codex_runs_a_turn_and_codex_reply_continues_the_thread(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    (workdir / "notes.txt").write_text("from-the-file\n")
    mock.push(
        mockmodel.call_turn(shell_call("call_1", "cat notes.txt")),
        mockmodel.text_turn("the file says from-the-file"),
        mockmodel.text_turn("second answer"),
        mockmodel.text_turn("third answer"),
    )
    events = Events()
    async with connect(mock, home, events) as session:
        first = await call_ok(
            session,
            "codex",
            {
                "prompt": "what is in notes.txt?",
                "cwd": str(workdir),
                "model": "mock-model-1",
                "base-instructions": "You are a test double.",
                "developer-instructions": "Answer in three words.",
            },
        )
        assert first.structured_content is not None
        thread_id = first.structured_content["threadId"]
        assert thread_id
        assert first.structured_content["content"] == "the file says from-the-file"
        assert text_of(first) == "the file says from-the-file"

        # The turn streamed as codex/event notifications, tagged with the thread.
        started = await events.wait_for("thread.started")
        assert started.msg["thread_id"] == thread_id
        assert started.meta["threadId"] == thread_id
        await events.wait_for("turn.completed")
        command = (await events.wait_for("item.completed", "command_execution")).msg["item"]
        assert command["exit_code"] == 0
        assert "from-the-file" in command["aggregated_output"]
        # The command really ran: its output went back to the model.
        request = mock.requests()[0]["body"]
        assert request["model"] == "mock-model-1"
        assert request["instructions"] == "You are a test double."
        assert any("Answer in three words." in t for t in mockmodel.input_texts(mock.requests()[0]))
        outputs = mockmodel.tool_outputs(mock.requests()[1])
        assert "from-the-file" in outputs["call_1"]

        second = await call_ok(
            session, "codex-reply", {"threadId": thread_id, "prompt": "and now?"}
        )
        assert second.structured_content == {"threadId": thread_id, "content": "second answer"}
        # The model saw the whole conversation so far.
        texts = mockmodel.input_texts(mock.requests()[2])
        assert "what is in notes.txt?" in texts
        assert "the file says from-the-file" in texts
        assert texts[-1] == "and now?"

        # `conversationId` is the older name of `threadId`.
        third = await call_ok(
            session, "codex-reply", {"conversationId": thread_id, "prompt": "once more"}
        )
        assert text_of(third) == "third answer"


@pytest.mark.anyio
async def test_codex_reply_resumes_a_thread_of_an_earlier_server(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    (workdir / "notes.txt").write_text("in-the-first-cwd\n")
    mock.push(
        mockmodel.text_turn("remembered"),
        mockmodel.call_turn(shell_call("call_1", "cat notes.txt > copy.txt && cat copy.txt")),
        mockmodel.text_turn("still here"),
    )
    async with connect(mock, home) as session:
        first = await call_ok(
            session,
            "codex",
            {"prompt": "remember 42", "cwd": str(workdir), "sandbox": "workspace-write"},
        )
        assert first.structured_content is not None
        thread_id = first.structured_content["threadId"]

    # A new server process (in another directory): the thread comes back from
    # the session store, and works where it was started.
    async with connect(mock, home) as session:
        again = await call_ok(
            session, "codex-reply", {"threadId": thread_id, "prompt": "what was it?"}
        )
        assert again.structured_content == {"threadId": thread_id, "content": "still here"}
    texts = mockmodel.input_texts(mock.requests()[1])
    assert "remember 42" in texts
    assert "remembered" in texts
    assert texts[-1] == "what was it?"
    assert "in-the-first-cwd" in mockmodel.tool_outputs(mock.requests()[2])["call_1"]
    # ...and under the sandbox it ran with (the server's default is read-only).
    assert (workdir / "copy.txt").read_text() == "in-the-first-cwd\n"


def processes_with(marker: str) -> List[int]:
    """Pids of this user's processes whose environment holds `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.mark.anyio
async def test_calls_with_the_same_settings_share_one_agent_and_its_mcp_servers(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    everything = (
        ROOT / "tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
    )
    assert everything.is_file(), "run `make mcp-deps`"
    marker = f"CODELOOP_SHARED_{os.getpid()}"
    (home / "config.toml").write_text(
        "[mcp_servers.everything]\n"
        'command = "node"\n'
        f'args = ["{everything}", "stdio"]\n'
        f'env = {{ MARKER = "{marker}" }}\n'
        "required = true\n"
    )
    mock.push(mockmodel.text_turn("one"), mockmodel.text_turn("two"))
    async with connect(mock, home) as session:
        for prompt in ("first", "second"):
            await call_ok(session, "codex", {"prompt": prompt, "cwd": str(workdir)})
        # Both turns offered the server's tools; one server process serves both.
        for request in mock.requests():
            names = [t["name"] for t in request["body"]["tools"]]
            assert "mcp__everything__echo" in names
        assert len(processes_with(marker)) == 1


# -------------------------------------------------------------- approvals


class Elicitations:
    """An elicitation callback that answers `action` and records the requests."""

    def __init__(self, action: Literal["accept", "decline", "cancel"]) -> None:
        self.action = action
        self.requests: List[types.ElicitRequestParams] = []

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.requests.append(params)
        return types.ElicitResult(
            action=self.action, content={} if self.action == "accept" else None
        )


@pytest.mark.anyio
async def test_on_request_escalation_is_elicited_and_accepted(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    # No approval-policy and no sandbox: the defaults, on-request and read-only.
    # Writing needs the escalation the model asks for, which the client grants.
    mock.push(
        mockmodel.call_turn(
            shell_call(
                "call_1",
                "touch approved.txt",
                sandbox_permissions="require_escalated",
                justification="create the file",
            )
        ),
        mockmodel.text_turn("created"),
    )
    elicitations = Elicitations("accept")
    async with connect(mock, home, elicitation=elicitations) as session:
        await call_ok(session, "codex", {"prompt": "create approved.txt", "cwd": str(workdir)})
    assert len(elicitations.requests) == 1
    message = elicitations.requests[0].message
    assert "touch approved.txt" in message
    assert "create the file" in message
    assert (workdir / "approved.txt").is_file()


async def untrusted_touch(
    mock: MockModel,
    home: Path,
    workdir: Path,
    name: str,
    answer: str,
    elicitation: Optional[ElicitationFnT] = None,
) -> Dict[str, Any]:
    """A turn under the untrusted policy in which the model runs `touch name`,
    then answers `answer`; returns the completed command item."""
    mock.push(
        mockmodel.call_turn(shell_call("call_1", f"touch {name}")),
        mockmodel.text_turn(answer),
    )
    events = Events()
    async with connect(mock, home, events, elicitation=elicitation) as session:
        result = await call_ok(
            session,
            "codex",
            {
                "prompt": f"create {name}",
                "cwd": str(workdir),
                "approval-policy": "untrusted",
                "sandbox": "danger-full-access",
            },
        )
        assert text_of(result) == answer
        command = await events.wait_for("item.completed", "command_execution")
    return command.msg["item"]


@pytest.mark.anyio
async def test_untrusted_command_declined_by_the_client_does_not_run(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    elicitations = Elicitations("decline")
    command = await untrusted_touch(
        mock, home, workdir, "declined.txt", "it was declined", elicitations
    )
    assert command["status"] == "declined"
    assert len(elicitations.requests) == 1
    assert not (workdir / "declined.txt").exists()
    # The model was told.
    assert "declin" in mockmodel.tool_outputs(mock.requests()[1])["call_1"].lower()


@pytest.mark.anyio
async def test_a_client_without_elicitation_gets_a_denial_not_a_hang(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    command = await untrusted_touch(mock, home, workdir, "nobody-asked.txt", "could not")
    assert command["status"] == "declined"
    assert not (workdir / "nobody-asked.txt").exists()


# ----------------------------------------------------------------- errors


@pytest.mark.anyio
async def test_bad_arguments_are_tool_errors(mock: MockModel, home: Path, workdir: Path) -> None:
    async with connect(mock, home) as session:
        missing = await call(session, "codex", {})
        assert missing.is_error
        assert "prompt" in text_of(missing)

        bogus = await call(session, "codex", {"prompt": "x", "sandbox": "bogus"})
        assert bogus.is_error
        assert "bogus" in text_of(bogus)

        typo = await call(session, "codex", {"prompt": "x", "sandbox_mode": "read-only"})
        assert typo.is_error
        assert "sandbox_mode" in text_of(typo)

        nowhere = await call(session, "codex", {"prompt": "x", "cwd": str(workdir / "missing")})
        assert nowhere.is_error
        assert "missing" in text_of(nowhere)

        no_thread = await call(session, "codex-reply", {"prompt": "x"})
        assert no_thread.is_error
        assert "threadId" in text_of(no_thread)

        unknown = await call(session, "codex-reply", {"prompt": "x", "threadId": "no-such-thread"})
        assert unknown.is_error
        assert "no-such-thread" in text_of(unknown)

        # The server is still there and serving.
        assert {t.name for t in (await session.list_tools()).tools} == {"codex", "codex-reply"}
    # None of these reached the model.
    assert mock.requests() == []


# ----------------------------------------------------------- cancellation


@pytest.mark.anyio
async def test_cancelling_the_call_interrupts_the_turn(
    mock: MockModel, home: Path, workdir: Path
) -> None:
    mock.push(
        mockmodel.call_turn(shell_call("call_1", "sleep 600")),
        mockmodel.text_turn("after the interruption"),
    )
    events = Events()
    async with connect(mock, home, events) as session:
        async with anyio.create_task_group() as tasks:
            scope = anyio.CancelScope()

            async def run() -> None:
                with scope:
                    await session.call_tool("codex", {"prompt": "wait", "cwd": str(workdir)})

            tasks.start_soon(run)
            started = await events.wait_for("item.started", "command_execution")
            assert "sleep 600" in started.msg["item"]["command"]
            # Abandoning the call sends notifications/cancelled.
            scope.cancel()
        failed = await events.wait_for("turn.failed")
        assert failed.msg["error"]["code"] == "interrupted"
        thread_id = failed.meta["threadId"]

        # The thread is free again, and the killed command was answered.
        reply = await call_ok(session, "codex-reply", {"threadId": thread_id, "prompt": "go on"})
        assert text_of(reply) == "after the interruption"
    assert "call_1" in mockmodel.tool_outputs(mock.requests()[1])
