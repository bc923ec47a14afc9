"""The protocol's types as Python sees them: plain dicts, described by
TypedDicts that follow ``core/protocol.schema.json`` key for key (a test
checks that they agree).

Events and items are the Codex ``exec --json`` model: dispatch on
``event["type"]`` and ``item["type"]``::

    for event in thread.run_streamed("..."):
        if event["type"] == "item.completed" and event["item"]["type"] == "command_execution":
            print(event["item"]["command"], event["item"]["exit_code"])

A key that the core leaves out when it has no value (``McpToolCallItem.result``,
``ToolCallItem.output``, ...) is declared in a ``total=False`` part; a key that
is always present but may be ``None`` is ``Optional``.
"""

# No `from __future__ import annotations` here: TypedDict annotations are
# evaluated at run time (typing.get_type_hints), and Python 3.9 must be able
# to evaluate them, so they use typing.Optional/Union/List/Dict.

from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

__all__ = [
    "AgentMessageItem",
    "AppliedPatch",
    "ApprovalDecision",
    "ApprovalPolicy",
    "ApprovalRequest",
    "CommandApprovalRequest",
    "CommandExecutionItem",
    "CommandStatus",
    "DeltaKind",
    "EnvInherit",
    "EnvPolicy",
    "ErrorCode",
    "ErrorEvent",
    "ErrorItem",
    "FileChangeApprovalRequest",
    "FileChangeItem",
    "FileUpdateChange",
    "HookDecision",
    "HookEvent",
    "HookName",
    "HookOutcome",
    "HostToolCall",
    "HostToolSpec",
    "ItemCompletedEvent",
    "ItemDeltaEvent",
    "ItemError",
    "ItemStartedEvent",
    "ItemUpdatedEvent",
    "LocalImageInput",
    "McpToolCallItem",
    "McpToolCallResult",
    "PatchChangeKind",
    "PatchStatus",
    "PostToolUseHookEvent",
    "PreToolUseHookEvent",
    "ReasoningEffort",
    "ReasoningItem",
    "ReasoningSummaryMode",
    "SandboxMode",
    "SessionStartHookEvent",
    "ShellToolKind",
    "StopHookEvent",
    "TextInput",
    "ThreadError",
    "ThreadEvent",
    "ThreadItem",
    "ThreadStartedEvent",
    "TodoItem",
    "TodoListItem",
    "ToolApprovalRequest",
    "ToolCallItem",
    "ToolCallStatus",
    "TurnCompletedEvent",
    "TurnFailedEvent",
    "TurnStartedEvent",
    "Usage",
    "UserInput",
    "UserPromptSubmitHookEvent",
    "WebSearchItem",
    "WireApi",
]

# ---------------------------------------------------------------- options

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
ApprovalPolicy = Literal["never", "on-request", "untrusted"]
WireApi = Literal["responses", "chat"]
ShellToolKind = Literal["shell", "shell_command", "exec_command"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
ReasoningSummaryMode = Literal["auto", "concise", "detailed", "none"]
EnvInherit = Literal["all", "core", "none"]


class EnvPolicy(TypedDict, total=False):
    """The environment of tool subprocesses (Codex's ``shell_environment_policy``)."""

    inherit: EnvInherit
    ignore_default_excludes: bool
    exclude: List[str]
    include_only: List[str]
    set: Dict[str, str]


class _HostToolSpecRequired(TypedDict):
    name: str


class HostToolSpec(_HostToolSpecRequired, total=False):
    """A tool of this program as the model sees it (what ``@codeloop.tool`` builds)."""

    description: str
    parameters: Dict[str, Any]


# ------------------------------------------------------------------ input


class TextInput(TypedDict):
    type: Literal["text"]
    text: str


class LocalImageInput(TypedDict):
    """An image file to attach (PNG, JPEG, GIF, WebP)."""

    type: Literal["local_image"]
    path: str


UserInput = Union[TextInput, LocalImageInput]

# ------------------------------------------------------------------ items

CommandStatus = Literal["in_progress", "completed", "failed", "declined"]
PatchStatus = Literal["in_progress", "completed", "failed", "declined"]
ToolCallStatus = Literal["in_progress", "completed", "failed", "declined"]
PatchChangeKind = Literal["add", "delete", "update"]


class FileUpdateChange(TypedDict):
    path: str
    kind: PatchChangeKind


class ItemError(TypedDict):
    message: str


class TodoItem(TypedDict):
    text: str
    completed: bool


class _McpToolCallResultRequired(TypedDict):
    content: List[Any]


class McpToolCallResult(_McpToolCallResultRequired, total=False):
    structured_content: Any


class AgentMessageItem(TypedDict):
    """The agent's answer (the JSON text when an output schema is set)."""

    id: str
    type: Literal["agent_message"]
    text: str


class ReasoningItem(TypedDict):
    """The model's reasoning summary."""

    id: str
    type: Literal["reasoning"]
    text: str


class CommandExecutionItem(TypedDict):
    """A shell command the agent ran."""

    id: str
    type: Literal["command_execution"]
    command: str
    aggregated_output: str
    exit_code: Optional[int]
    status: CommandStatus


class FileChangeItem(TypedDict):
    """A patch the agent applied."""

    id: str
    type: Literal["file_change"]
    changes: List[FileUpdateChange]
    status: PatchStatus


class _McpToolCallItemRequired(TypedDict):
    id: str
    type: Literal["mcp_tool_call"]
    server: str
    tool: str
    arguments: Any
    status: ToolCallStatus


class McpToolCallItem(_McpToolCallItemRequired, total=False):
    """A call to an MCP server's tool."""

    result: Optional[McpToolCallResult]
    error: Optional[ItemError]


class _WebSearchItemRequired(TypedDict):
    id: str
    type: Literal["web_search"]
    query: str


class WebSearchItem(_WebSearchItemRequired, total=False):
    """A web search the model ran (hosted tool)."""

    action: Any


class TodoListItem(TypedDict):
    """The agent's plan, from ``update_plan``."""

    id: str
    type: Literal["todo_list"]
    items: List[TodoItem]


class ErrorItem(TypedDict):
    """A non-fatal error or warning."""

    id: str
    type: Literal["error"]
    message: str


class _ToolCallItemRequired(TypedDict):
    id: str
    type: Literal["tool_call"]
    tool: str
    arguments: Any
    status: ToolCallStatus


class ToolCallItem(_ToolCallItemRequired, total=False):
    """A call to a host tool (``@codeloop.tool``) or a built-in file tool."""

    output: Optional[str]
    error: Optional[ItemError]


ThreadItem = Union[
    AgentMessageItem,
    ReasoningItem,
    CommandExecutionItem,
    FileChangeItem,
    McpToolCallItem,
    WebSearchItem,
    TodoListItem,
    ErrorItem,
    ToolCallItem,
]

# ----------------------------------------------------------------- events

DeltaKind = Literal["agent_message", "reasoning", "command_output"]
ErrorCode = Literal[
    "model_api",
    "unauthorized",
    "context_window_exceeded",
    "quota_exceeded",
    "stream",
    "replay",
    "interrupted",
    "budget_exceeded",
    "sandbox",
    "config",
    "host",
    "busy",
    "io",
    "internal",
]


class Usage(TypedDict):
    """Token usage, cumulative for the thread."""

    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int


class _ThreadErrorRequired(TypedDict):
    message: str


class ThreadError(_ThreadErrorRequired, total=False):
    code: Optional[ErrorCode]


class ThreadStartedEvent(TypedDict):
    """The first event of a run on a thread object: the id to resume it by."""

    type: Literal["thread.started"]
    thread_id: str


class TurnStartedEvent(TypedDict):
    type: Literal["turn.started"]


class TurnCompletedEvent(TypedDict):
    """The turn ended normally; ``usage`` is cumulative for the thread."""

    type: Literal["turn.completed"]
    usage: Usage


class TurnFailedEvent(TypedDict):
    """The turn ended with an error (interrupted, budget exceeded, model error)."""

    type: Literal["turn.failed"]
    error: ThreadError


class ItemStartedEvent(TypedDict):
    type: Literal["item.started"]
    item: ThreadItem


class ItemUpdatedEvent(TypedDict):
    type: Literal["item.updated"]
    item: ThreadItem


class ItemCompletedEvent(TypedDict):
    type: Literal["item.completed"]
    item: ThreadItem


class ItemDeltaEvent(TypedDict):
    """Streaming text of an item that has not completed yet (codeloop addition)."""

    type: Literal["item.delta"]
    item_id: str
    item_type: DeltaKind
    delta: str


class ErrorEvent(TypedDict):
    """A non-fatal error (a retry, a warning)."""

    type: Literal["error"]
    message: str


ThreadEvent = Union[
    ThreadStartedEvent,
    TurnStartedEvent,
    TurnCompletedEvent,
    TurnFailedEvent,
    ItemStartedEvent,
    ItemUpdatedEvent,
    ItemCompletedEvent,
    ItemDeltaEvent,
    ErrorEvent,
]

# ---------------------------------------------------------- host requests


class HostToolCall(TypedDict):
    """A call of a host tool by the model."""

    thread_id: str
    call_id: str
    name: str
    arguments: Any


class _ApprovalRequestBase(TypedDict):
    thread_id: str
    call_id: str
    cwd: str
    #: Why the approval is asked (the model's justification or the policy's).
    reason: Optional[str]


class CommandApprovalRequest(_ApprovalRequestBase):
    """The model wants to run a command."""

    kind: Literal["command"]
    command: List[str]


class FileChangeApprovalRequest(_ApprovalRequestBase):
    """The model wants to apply a patch."""

    kind: Literal["file_change"]
    changes: List[FileUpdateChange]
    patch: str


class ToolApprovalRequest(_ApprovalRequestBase):
    """The model wants to call a tool (host, MCP or file tool)."""

    kind: Literal["tool"]
    tool: str
    arguments: Any


ApprovalRequest = Union[CommandApprovalRequest, FileChangeApprovalRequest, ToolApprovalRequest]

#: What ``can_use_tool`` answers (``True``/``False`` are accepted too).
#: ``"abort"`` denies and ends the turn.
ApprovalDecision = Literal["approve", "approve_for_session", "deny", "abort"]

HookName = Literal["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop"]
HookDecision = Literal["continue", "allow", "deny"]


class SessionStartHookEvent(TypedDict):
    hook_event_name: Literal["SessionStart"]
    session_id: str
    cwd: str
    source: str


class UserPromptSubmitHookEvent(TypedDict):
    hook_event_name: Literal["UserPromptSubmit"]
    session_id: str
    cwd: str
    prompt: str


class PreToolUseHookEvent(TypedDict):
    hook_event_name: Literal["PreToolUse"]
    session_id: str
    cwd: str
    tool_name: str
    tool_input: Any


class PostToolUseHookEvent(TypedDict):
    hook_event_name: Literal["PostToolUse"]
    session_id: str
    cwd: str
    tool_name: str
    tool_input: Any
    tool_response: Any


class StopHookEvent(TypedDict):
    hook_event_name: Literal["Stop"]
    session_id: str
    cwd: str
    last_assistant_message: Optional[str]
    #: True when an earlier Stop hook of this turn already kept it going.
    stop_hook_active: bool


HookEvent = Union[
    SessionStartHookEvent,
    UserPromptSubmitHookEvent,
    PreToolUseHookEvent,
    PostToolUseHookEvent,
    StopHookEvent,
]


class HookOutcome(TypedDict, total=False):
    """A hook's answer; returning ``None`` (or ``{}``) lets things go on unchanged.

    ``decision``: ``"deny"`` blocks the tool call (PreToolUse), the prompt
    (UserPromptSubmit) or the stop (Stop: the agent keeps working), with
    ``reason`` shown to the model. ``updated_input`` replaces a tool's input
    (PreToolUse). ``additional_context`` is added to the conversation.
    """

    decision: HookDecision
    reason: Optional[str]
    updated_input: Any
    additional_context: Optional[str]


class AppliedPatch(TypedDict):
    """What :func:`codeloop.apply_patch` changed."""

    changes: List[FileUpdateChange]
    #: ``Success. Updated the following files:`` and an A/M/D line per file.
    summary: str
