"""codeloop: a coding agent that runs inside this Python process.

::

    import codeloop

    agent = codeloop.Agent(model="gpt-5.4", cwd=".", sandbox="workspace-write")
    thread = agent.start_thread()
    result = thread.run("make the failing test pass")   # .final_response .items .usage
    for event in thread.run_streamed("now add a test"):  # or: async for
        print(event["type"])

    verdict = thread.run("did it pass?", output_type=Verdict)  # a pydantic model or dataclass
    print(verdict.output.passed)

The agent loop, tools and sandbox are the Rust core (``codeloop._native``);
this package translates. Blocking calls release the GIL; each has an async
twin (``await thread.run_async(...)``, ``async for``, ``await
run.result_async()``). Events and items are dicts typed in
:mod:`codeloop.types`; errors are :class:`CodeloopError` subclasses.
"""

from __future__ import annotations

import os
from typing import Union

from . import _native
from .agent import (
    Agent,
    CanUseTool,
    HookCallback,
    HookMatcher,
    Hooks,
    Input,
    OutputSchema,
    RunResult,
    StreamedRun,
    Thread,
)
from .errors import (
    APIError,
    AuthenticationError,
    BudgetExceededError,
    BusyError,
    CodeloopError,
    ConfigError,
    ContextWindowError,
    ForkedProcessError,
    HostCallbackError,
    InternalError,
    LocalIOError,
    ModelError,
    NoActiveTurnError,
    OutputInvalidError,
    PatchError,
    QuotaExceededError,
    ReplayError,
    SandboxError,
    StreamError,
    TurnInterrupted,
)
from .tools import Tool, ToolContext, tool
from .types import (
    AppliedPatch,
    ApprovalDecision,
    ApprovalRequest,
    Compaction,
    HookEvent,
    HookOutcome,
    McpServerConfig,
    ModelPrice,
    RunOptions,
    ThreadEvent,
    ThreadItem,
    Usage,
)

__version__: str = _native.__version__

__all__ = [
    "APIError",
    "Agent",
    "AppliedPatch",
    "ApprovalDecision",
    "ApprovalRequest",
    "AuthenticationError",
    "BudgetExceededError",
    "BusyError",
    "CanUseTool",
    "CodeloopError",
    "Compaction",
    "ConfigError",
    "ContextWindowError",
    "ForkedProcessError",
    "HookCallback",
    "HookEvent",
    "HookMatcher",
    "HookOutcome",
    "Hooks",
    "HostCallbackError",
    "Input",
    "InternalError",
    "LocalIOError",
    "McpServerConfig",
    "ModelError",
    "ModelPrice",
    "NoActiveTurnError",
    "OutputInvalidError",
    "OutputSchema",
    "PatchError",
    "QuotaExceededError",
    "ReplayError",
    "RunOptions",
    "RunResult",
    "SandboxError",
    "StreamError",
    "StreamedRun",
    "Thread",
    "ThreadEvent",
    "ThreadItem",
    "Tool",
    "ToolContext",
    "TurnInterrupted",
    "Usage",
    "__version__",
    "apply_patch",
    "protocol_schema",
    "tool",
]


def apply_patch(patch: str, cwd: Union[str, os.PathLike[str]] = ".") -> AppliedPatch:
    """Apply a patch in the Codex ``apply_patch`` format under ``cwd``,
    atomically: every hunk is checked before any file is written. Raises
    :class:`PatchError` (the files untouched) when it does not apply."""
    applied: AppliedPatch = _native.apply_patch(patch, os.fspath(cwd))  # type: ignore[assignment]
    return applied


def protocol_schema() -> str:
    """The JSON Schema of the protocol (options, events, items, host requests)."""
    return _native.protocol_schema()
