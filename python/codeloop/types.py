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
    "CallbackHookHandler",
    "CommandHookHandler",
    "CommandStatus",
    "Compaction",
    "CompactionTrigger",
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
    "HookHandlerSpec",
    "HookMatcherGroup",
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
    "McpServerConfig",
    "McpToolCallItem",
    "McpToolCallResult",
    "ModelPrice",
    "PatchChangeKind",
    "PatchStatus",
    "PostToolUseHookEvent",
    "PreToolUseHookEvent",
    "ReasoningEffort",
    "ReasoningItem",
    "ReasoningSummaryMode",
    "RunOptions",
    "SandboxMode",
    "SessionStartHookEvent",
    "ShellToolKind",
    "StopHookEvent",
    "TextInput",
    "ThreadCompactedEvent",
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


class McpServerConfig(TypedDict, total=False):
    """One MCP server (``mcp_servers={"name": {...}}``): a command run over
    stdio (``command``, ``args``, ``env``, ``env_vars``, ``cwd``) or a
    streamable HTTP endpoint (``url``, ``bearer_token_env_var``,
    ``http_headers``, ``env_http_headers``). Its tools are offered to the
    model as ``mcp__<server>__<tool>``; each call is an ``mcp_tool_call`` item.
    """

    #: stdio: the program to run (looked up on ``PATH``).
    command: Optional[str]
    args: List[str]
    #: stdio: variables to set; the server otherwise gets a minimal environment.
    env: Dict[str, str]
    #: stdio: names of this process's variables passed through as they are.
    env_vars: List[str]
    #: stdio: working directory (relative to the agent's cwd).
    cwd: Optional[str]
    #: streamable HTTP: the endpoint URL.
    url: Optional[str]
    #: streamable HTTP: the variable holding a bearer token.
    bearer_token_env_var: Optional[str]
    http_headers: Dict[str, str]
    #: streamable HTTP: header -> name of the variable holding its value.
    env_http_headers: Dict[str, str]
    #: Start this server (default True).
    enabled: bool
    #: A server that fails to start fails the run (``ConfigError``) instead
    #: of being left out with an ``error`` event.
    required: bool
    #: Seconds to start and list tools (default 10).
    startup_timeout_sec: Optional[float]
    #: Seconds one tool call may take (default 60).
    tool_timeout_sec: Optional[float]
    #: Offer only these tools of the server (their MCP names).
    enabled_tools: Optional[List[str]]
    #: Never offer these tools (applied after ``enabled_tools``).
    disabled_tools: List[str]


class _ModelPriceRequired(TypedDict):
    input: float
    output: float


class ModelPrice(_ModelPriceRequired, total=False):
    """A model's price in USD per 1M tokens (``model_prices``)."""

    #: Cached input tokens; default: the ``input`` price.
    cached_input: Optional[float]


class RunOptions(TypedDict, total=False):
    """Options of one run, over the agent's (the keyword arguments of
    ``Thread.run``); unset keys take the agent's value."""

    #: JSON Schema of this run's final answer.
    output_schema: Any
    output_schema_retries: Optional[int]
    max_turns: Optional[int]
    max_tokens: Optional[int]
    max_cost_usd: Optional[float]
    timeout_ms: Optional[int]


class _CommandHookHandlerRequired(TypedDict):
    type: Literal["command"]
    command: str


class CommandHookHandler(_CommandHookHandlerRequired, total=False):
    """A shell command (``bash -c``) given the hook event as JSON on stdin;
    its decision is read from stdout / the exit code as Claude Code and
    Codex define them."""

    #: Seconds before the command is killed (default 60).
    timeout: Optional[int]


class CallbackHookHandler(TypedDict):
    """A callback of the embedding program, asked by id. The package
    registers one for each Python hook function; rarely written by hand."""

    type: Literal["callback"]
    id: str


HookHandlerSpec = Union[CommandHookHandler, CallbackHookHandler]


class HookMatcherGroup(TypedDict, total=False):
    """The handlers of one hook event whose ``matcher`` matches, in the
    shape of Claude Code's ``settings.json`` and Codex's ``hooks.json``."""

    #: PreToolUse / PostToolUse: a regular expression matched against the
    #: whole tool name (``Bash``, ``apply_patch``, ``mcp__s__t``);
    #: SessionStart: against the source. Empty or ``*``: everything.
    matcher: str
    hooks: List[HookHandlerSpec]


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
    "output_invalid",
    "no_active_turn",
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


class _TurnCompletedEventRequired(TypedDict):
    type: Literal["turn.completed"]
    usage: Usage


class TurnCompletedEvent(_TurnCompletedEventRequired, total=False):
    """The turn ended normally; ``usage`` is cumulative for the thread;
    ``output`` (only with an output schema) is the parsed, validated answer."""

    output: Any


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


CompactionTrigger = Literal["auto", "manual"]


class Compaction(TypedDict):
    """What a compaction did (``thread.compact()``, ``thread.compacted``)."""

    #: ``auto`` (the context reached ``auto_compact_token_limit``) or ``manual``.
    trigger: CompactionTrigger
    #: The context size before, in tokens (0 when no request was made yet).
    tokens_before: int
    items_before: int
    items_after: int


class ThreadCompactedEvent(Compaction):
    """The history was replaced by a summary and the recent user messages
    (codeloop addition)."""

    type: Literal["thread.compacted"]


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
    ThreadCompactedEvent,
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
HookDecision = Literal["continue", "allow", "deny", "ask"]


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
    ``reason`` shown to the model; ``"ask"`` (PreToolUse) asks
    ``can_use_tool`` first. ``updated_input`` replaces a tool's input
    (PreToolUse) for the hooks after this one too. ``additional_context`` is
    added to the conversation. ``stop`` ends the turn after this hook (Claude
    Code's ``continue: false``), ``stop_reason`` saying why;
    ``system_message`` is shown as an ``error`` event. A deny or a stop
    skips the hooks after this one.
    """

    decision: HookDecision
    reason: Optional[str]
    updated_input: Any
    additional_context: Optional[str]
    stop: bool
    stop_reason: Optional[str]
    system_message: Optional[str]


class AppliedPatch(TypedDict):
    """What :func:`codeloop.apply_patch` changed."""

    changes: List[FileUpdateChange]
    #: ``Success. Updated the following files:`` and an A/M/D line per file.
    summary: str
