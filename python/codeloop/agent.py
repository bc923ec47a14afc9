"""Agent, Thread and runs: the public API over ``codeloop._native``.

One object serves both worlds: every blocking call has an async twin
(``run`` / ``run_async``, ``result`` / ``result_async``) and a streamed run is
iterated with ``for`` or ``async for``. Blocking calls release the GIL while
the core works, so many threads can run at once from Python threads too.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import sys
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Union,
)

from . import _native
from ._host import HOOK_NAMES, Dispatcher
from ._output import OutputSpec, output_spec
from .errors import ConfigError
from .tools import Tool, as_tool
from .types import (
    ApprovalPolicy,
    Compaction,
    EnvPolicy,
    HookHandlerSpec,
    HookMatcherGroup,
    McpServerConfig,
    ModelPrice,
    ReasoningEffort,
    ReasoningSummaryMode,
    SandboxMode,
    ShellToolKind,
    ThreadEvent,
    ThreadItem,
    Usage,
    UserInput,
    WireApi,
)

if TYPE_CHECKING:
    # asyncio is imported where it is used: importing it costs more than the
    # rest of the package, and a sync program never needs it.
    import asyncio

    from .types import ApprovalRequest, HookEvent, HookName

__all__ = [
    "Agent",
    "CanUseTool",
    "HookCallback",
    "HookMatcher",
    "Hooks",
    "Input",
    "OutputSchema",
    "RunResult",
    "StreamedRun",
    "Thread",
]

PathLike = Union[str, "os.PathLike[str]"]
Input = Union[str, Sequence[UserInput]]
#: ``can_use_tool(request)``: a decision, or an awaitable of one.
CanUseTool = Callable[["ApprovalRequest"], Any]
#: A hook: ``hook(event)`` returns ``None``, a ``HookOutcome``, or an awaitable of either.
HookCallback = Callable[["HookEvent"], Any]
#: ``output_schema=``: a JSON Schema dict, a pydantic model class or a dataclass type.
OutputSchema = Union[Mapping[str, Any], type]


@dataclasses.dataclass
class HookMatcher:
    """The hooks of one event that apply when ``matcher`` matches, as in the
    Claude Agent SDK: ``hooks={"PreToolUse": [HookMatcher(matcher="Bash",
    hooks=[check_command])]}``.

    ``matcher``: PreToolUse / PostToolUse: a regular expression matched
    against the whole tool name (``Bash``, ``apply_patch``, ``mcp__s__t``);
    SessionStart: against the source (``startup``, ``resume``). ``None``,
    empty or ``*``: everything. ``hooks``: Python callbacks and command
    handlers (``{"type": "command", "command": "...", "timeout": 30}``), run
    in order.
    """

    matcher: Optional[str] = None
    hooks: List[Union[HookCallback, HookHandlerSpec]] = dataclasses.field(default_factory=list)


#: The ``hooks`` option: event name -> a callback, or a list of callbacks,
#: :class:`HookMatcher` objects and ``HookMatcherGroup`` dicts.
Hooks = Mapping[
    "HookName",
    Union[HookCallback, Sequence[Union[HookCallback, HookMatcher, HookMatcherGroup]]],
]

# Events handed to Python per native call: large enough that a fast stream
# costs little per event, small enough that a batch is never a long pause.
_BATCH = 1024


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a finished turn produced."""

    #: The text of the turn's last agent message.
    final_response: str
    #: The completed items of the turn, in order.
    items: List[ThreadItem]
    #: Token usage, cumulative for the thread.
    usage: Usage
    thread_id: str
    #: The final answer of a run with an output schema, parsed (and checked
    #: against the schema by the core); an instance of the pydantic model or
    #: dataclass when one was given as ``output_type``/``output_schema``.
    #: ``None`` without a schema.
    output: Any = None


def _result(raw: Dict[str, Any], spec: Optional[OutputSpec]) -> RunResult:
    output = raw.get("output")
    return RunResult(
        final_response=raw["final_response"],
        items=raw["items"],
        usage=raw["usage"],
        thread_id=raw["thread_id"],
        output=spec.convert(output) if spec is not None else output,
    )


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    # Without asyncio imported, no loop can be running.
    aio = sys.modules.get("asyncio")
    if aio is None:
        return None
    try:
        loop: asyncio.AbstractEventLoop = aio.get_running_loop()
    except RuntimeError:
        return None
    return loop


# How long a cancelled `result_async` waits for its turn to wind down (its
# commands killed) before letting the cancellation through anyway.
_WIND_DOWN = 5.0


def _native_future(start: Callable[[Callable[[Any, Any], None]], None]) -> asyncio.Future[Any]:
    """Start a native ``*_async`` call, which answers ``callback(value,
    error)`` from a codeloop thread, and return the future of its answer."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: Any) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def callback(value: Any, error: Any) -> None:
        # A closed loop has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, value, error)

    start(callback)
    return future


def _input(value: Input) -> Union[str, List[Dict[str, Any]]]:
    if isinstance(value, str):
        return value
    items: List[Dict[str, Any]] = []
    for part in value:
        item: Dict[str, Any] = dict(part)
        if "path" in item:
            item["path"] = os.fspath(item["path"])
        items.append(item)
    return items


class StreamedRun:
    """One turn in progress: iterate it for its events (``for`` or
    ``async for``), or wait for its :class:`RunResult`.

    The iteration ends after ``turn.completed`` or ``turn.failed``; a failed
    turn is an event, not an exception, while :meth:`result` raises its
    error. Leaving a loop early does not stop the turn: iterate again to go
    on, or call :meth:`interrupt`. Dropping the object, or leaving a ``with``
    block, interrupts a turn that is still running.
    """

    def __init__(
        self, native: _native.EventStream, thread: Thread, spec: Optional[OutputSpec] = None
    ) -> None:
        self._native = native
        self._thread = thread
        self._spec = spec
        self._buffer: Deque[ThreadEvent] = collections.deque()
        self._ended = False
        self._result: Optional[RunResult] = None
        self._error: Optional[BaseException] = None
        self._loop_bound = False
        self._pending_batch: Optional[asyncio.Future[Any]] = None
        self._pending_result: Optional[asyncio.Future[Any]] = None

    @property
    def thread_id(self) -> str:
        return self._thread.id

    def interrupt(self) -> None:
        """Interrupt the turn: it ends with ``turn.failed`` (``interrupted``)."""
        self._native.interrupt()

    def close(self) -> None:
        """Interrupt the turn unless it already ended."""
        if not self._ended:
            self._native.interrupt()

    def __enter__(self) -> StreamedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> StreamedRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _guard_sync(self) -> None:
        bound = self._thread._bound_loop
        if bound is not None and bound is _running_loop():
            raise RuntimeError(
                "this run was started inside a running asyncio loop, whose async callbacks "
                "it would block: consume it with `async for` / `await run.result_async()`, "
                "or start it outside the loop"
            )

    def _bind_here(self) -> None:
        # Consumed with the async API: async callbacks go to the caller's loop.
        if not self._loop_bound:
            import asyncio

            self._loop_bound = True
            self._thread._bind(asyncio.get_running_loop())

    # -- sync

    def __iter__(self) -> StreamedRun:
        return self

    def __next__(self) -> ThreadEvent:
        if self._buffer:
            return self._buffer.popleft()
        if self._ended:
            raise StopIteration
        self._guard_sync()
        batch = self._native.next_batch(_BATCH)
        if batch is None:
            self._ended = True
            raise StopIteration
        self._take(batch)
        return self._buffer.popleft()

    def result(self) -> RunResult:
        """Wait for the end of the turn (with the GIL released) and return
        its result; raise its error (a :class:`CodeloopError`)."""
        if self._result is None and self._error is None:
            self._guard_sync()
            try:
                self._result = _result(self._native.finish(), self._spec)
            except BaseException as exc:
                if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    self._error = exc
                raise
            finally:
                self._ended = self._result is not None or self._error is not None
        return self._outcome()

    # -- async

    def __aiter__(self) -> StreamedRun:
        return self

    async def __anext__(self) -> ThreadEvent:
        if self._buffer:
            return self._buffer.popleft()
        if self._ended:
            raise StopAsyncIteration
        import asyncio

        self._bind_here()
        if self._pending_batch is None:
            self._pending_batch = _native_future(
                lambda cb: self._native.next_batch_async(_BATCH, cb)
            )
        pending = self._pending_batch
        try:
            # Shielded: a cancelled consumer leaves the batch for the next call.
            batch = await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.done():
                # A cancelled consumer stops the turn rather than leave it running unseen.
                self._native.interrupt()
                raise
            batch = None  # only reached if the batch itself was cancelled
        finally:
            if pending.done():
                self._pending_batch = None
        if batch is None:
            self._ended = True
            raise StopAsyncIteration
        self._take(batch)
        return self._buffer.popleft()

    async def result_async(self) -> RunResult:
        """:meth:`result` for asyncio. Cancelling the awaiting task
        interrupts the turn (and lets it wind down, so the thread can run
        again at once)."""
        if self._result is None and self._error is None:
            import asyncio

            self._bind_here()
            if self._pending_result is None:
                self._pending_result = _native_future(self._native.finish_async)
            pending = self._pending_result
            try:
                self._result = _result(await asyncio.shield(pending), self._spec)
            except asyncio.CancelledError:
                if pending.done():
                    raise
                self._native.interrupt()
                # The end is the turn's error (or a second cancellation): the
                # first cancellation is what the caller gets.
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.shield(pending), _WIND_DOWN)
                raise
            except BaseException as exc:
                self._error = exc
                raise
            finally:
                self._ended = self._result is not None or self._error is not None
        return self._outcome()

    def _take(self, batch: List[Any]) -> None:
        self._buffer.extend(batch)
        last = batch[-1]
        if last["type"] in ("turn.completed", "turn.failed"):
            self._ended = True

    def _outcome(self) -> RunResult:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class Thread:
    """One conversation. Runs one turn at a time; many threads run at once.

    Every run takes per-run options over the agent's (keyword arguments of
    :meth:`run`, :meth:`run_async` and :meth:`run_streamed`):

    - ``output_schema``: the final answer's JSON Schema (a dict), or a
      pydantic model class or dataclass type to derive it from; the parsed
      answer is ``result.output`` (an instance of the class given). An answer
      that does not match fails the run with :class:`OutputInvalidError`
      after ``output_schema_retries`` re-asks;
    - ``output_type``: the class to turn ``result.output`` into (its schema
      is the output schema unless ``output_schema`` is given too);
    - budgets ``max_turns``, ``max_tokens``, ``max_cost_usd``, ``timeout_ms``
      (:class:`BudgetExceededError` when one runs out).
    """

    def __init__(
        self,
        native: _native.Thread,
        dispatcher: Optional[Dispatcher],
        output: Optional[OutputSpec] = None,
    ) -> None:
        self._native = native
        self._dispatcher = dispatcher
        # The agent's output schema, when it came from a Python type.
        self._output = output
        self._bound_loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def id(self) -> str:
        """The thread id, to resume it by (``agent.resume_thread(id)``)."""
        return self._native.id

    @property
    def usage(self) -> Usage:
        """Token usage so far, cumulative, as of the last finished turn."""
        usage: Usage = self._native.usage()  # type: ignore[assignment]
        return usage

    def __repr__(self) -> str:
        return f"<codeloop.Thread {self.id}>"

    def _bind(self, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        self._bound_loop = loop
        if self._dispatcher is not None:
            self._dispatcher.bind(self.id, loop)

    def _start(
        self,
        input: Input,
        loop: Optional[asyncio.AbstractEventLoop],
        options: Dict[str, Any],
    ) -> StreamedRun:
        spec = output_spec(options.pop("output_schema"), options.pop("output_type"))
        run_options = {k: v for k, v in options.items() if v is not None}
        if spec is not None:
            run_options["output_schema"] = spec.schema
        else:
            spec = self._output
        native_input = _input(input)
        self._bind(loop)
        native = self._native.run_streamed(native_input, run_options or None)
        return StreamedRun(native, self, spec)

    def run_streamed(
        self,
        input: Input,
        *,
        output_schema: Optional[OutputSchema] = None,
        output_type: Optional[type] = None,
        output_schema_retries: Optional[int] = None,
        max_turns: Optional[int] = None,
        max_tokens: Optional[int] = None,
        max_cost_usd: Optional[float] = None,
        timeout_ms: Optional[int] = None,
    ) -> StreamedRun:
        """Start a turn and return it, to iterate for events. The turn runs
        from now on, whether or not it is iterated."""
        return self._start(
            input,
            _running_loop(),
            {
                "output_schema": output_schema,
                "output_type": output_type,
                "output_schema_retries": output_schema_retries,
                "max_turns": max_turns,
                "max_tokens": max_tokens,
                "max_cost_usd": max_cost_usd,
                "timeout_ms": timeout_ms,
            },
        )

    def run(
        self,
        input: Input,
        *,
        output_schema: Optional[OutputSchema] = None,
        output_type: Optional[type] = None,
        output_schema_retries: Optional[int] = None,
        max_turns: Optional[int] = None,
        max_tokens: Optional[int] = None,
        max_cost_usd: Optional[float] = None,
        timeout_ms: Optional[int] = None,
    ) -> RunResult:
        """Run one turn to its end. Blocks with the GIL released; Ctrl-C
        interrupts the turn and raises KeyboardInterrupt."""
        return self._start(
            input,
            None,
            {
                "output_schema": output_schema,
                "output_type": output_type,
                "output_schema_retries": output_schema_retries,
                "max_turns": max_turns,
                "max_tokens": max_tokens,
                "max_cost_usd": max_cost_usd,
                "timeout_ms": timeout_ms,
            },
        ).result()

    async def run_async(
        self,
        input: Input,
        *,
        output_schema: Optional[OutputSchema] = None,
        output_type: Optional[type] = None,
        output_schema_retries: Optional[int] = None,
        max_turns: Optional[int] = None,
        max_tokens: Optional[int] = None,
        max_cost_usd: Optional[float] = None,
        timeout_ms: Optional[int] = None,
    ) -> RunResult:
        """Run one turn to its end without blocking the event loop.
        Cancelling the awaiting task interrupts the turn."""
        import asyncio

        run = self._start(
            input,
            asyncio.get_running_loop(),
            {
                "output_schema": output_schema,
                "output_type": output_type,
                "output_schema_retries": output_schema_retries,
                "max_turns": max_turns,
                "max_tokens": max_tokens,
                "max_cost_usd": max_cost_usd,
                "timeout_ms": timeout_ms,
            },
        )
        return await run.result_async()

    def interrupt(self) -> None:
        """Interrupt the running turn, if any (from any thread or callback)."""
        self._native.interrupt()

    def steer(self, input: Input) -> None:
        """Add input to the running turn: the model gets it with the turn's
        next request. Safe from any thread and from a callback; raises
        :class:`NoActiveTurnError` when no turn runs (nothing is dropped
        silently)."""
        self._native.steer(_input(input))

    def compact(self) -> Compaction:
        """Compact the history now: the model summarizes the conversation,
        which is then replaced by the summary and the recent user messages.
        Raises :class:`BusyError` while a turn runs."""
        compaction: Compaction = self._native.compact()  # type: ignore[assignment]
        return compaction

    async def compact_async(self) -> Compaction:
        """:meth:`compact` for asyncio."""
        compaction: Compaction = await _native_future(self._native.compact_async)
        return compaction


def _path(value: Optional[PathLike]) -> Optional[str]:
    return None if value is None else os.fspath(value)


def _mcp_server(config: McpServerConfig) -> Dict[str, Any]:
    server: Dict[str, Any] = dict(config)
    if server.get("cwd") is not None:
        server["cwd"] = os.fspath(server["cwd"])
    return server


def _handler(name: str, handler: Any, callbacks: Dict[str, HookCallback]) -> HookHandlerSpec:
    if callable(handler):
        callback_id = f"{name}#{len(callbacks)}"
        callbacks[callback_id] = handler
        return {"type": "callback", "id": callback_id}
    if isinstance(handler, Mapping):
        # A command handler (or any handler spec): the core checks it.
        spec: HookHandlerSpec = dict(handler)  # type: ignore[assignment]
        return spec
    raise ConfigError(
        f"the {name} hook {handler!r} is neither callable nor a handler dict "
        '({"type": "command", "command": ...})',
        code="config",
    )


def _hooks(
    hooks: Optional[Hooks],
) -> tuple[Dict[str, List[HookMatcherGroup]], Dict[str, HookCallback]]:
    """The ``hooks`` option as the core reads it, each Python callback a
    ``{"type": "callback", "id"}`` handler, and the callbacks by id."""
    config: Dict[str, List[HookMatcherGroup]] = {}
    callbacks: Dict[str, HookCallback] = {}
    for name, entries in (hooks or {}).items():
        if name not in HOOK_NAMES:
            raise ConfigError(
                f"unknown hook {name!r}; the hooks are {', '.join(HOOK_NAMES)}", code="config"
            )
        listed: Sequence[Any] = [entries] if callable(entries) else list(entries)
        groups: List[HookMatcherGroup] = []
        for entry in listed:
            if isinstance(entry, HookMatcher):
                matcher, handlers = entry.matcher, list(entry.hooks)
            elif isinstance(entry, Mapping) and "hooks" in entry:
                matcher, handlers = entry.get("matcher"), list(entry["hooks"])
            else:
                matcher, handlers = None, [entry]
            groups.append(
                {
                    "matcher": matcher or "",
                    "hooks": [_handler(name, h, callbacks) for h in handlers],
                }
            )
        if groups:
            config[name] = groups
    return config, callbacks


class Agent:
    """A configured agent: model, working directory, sandbox, tools and
    callbacks. Cheap to create; its threads share the process's runtime.

    Options are keyword arguments named as in the protocol's ``AgentOptions``
    (``None`` leaves the core's default). Beyond them:

    - ``tools``: functions the model may call (see :func:`codeloop.tool`);
    - ``can_use_tool(request)``: decides approvals (under ``approval_policy``
      ``"untrusted"`` or ``"on-request"``); returns ``True``/``False`` or an
      :data:`ApprovalDecision`; sync or async. Without it, approvals are denied;
    - ``hooks``: ``{"PreToolUse": fn, "Stop": [fn1, fn2], ...}``, or in the
      Claude Agent SDK shape ``{"PreToolUse": [HookMatcher(matcher="Bash",
      hooks=[fn1, fn2])]}``; each ``fn(event)`` returns ``None`` or a
      :class:`HookOutcome` (allow, deny, ask, change the tool input, add
      context, stop the turn); sync or async. Command hooks
      (``{"type": "command", "command": "..."}``) go in the same lists. The
      core runs an event's hooks in order (after those of the config files);
      a deny or a stop skips the rest, and a changed input is what the next
      hook sees.

    An exception in ``can_use_tool`` or a hook fails the turn with
    :class:`HostCallbackError`; one in a tool becomes the tool's error result.

    ``output_schema`` may be a pydantic model class or a dataclass type as
    well as a JSON Schema dict; runs then return ``result.output`` as an
    instance of it. ``sandbox`` and ``approval_policy`` left ``None`` take
    the config files' value, else the default. Tests and embeddings that
    must not read the machine's ``~/.codeloop`` set ``codeloop_home`` (or
    ``load_config_files=False``).
    """

    def __init__(
        self,
        *,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        base_url: Optional[str] = None,
        wire_api: Optional[WireApi] = None,
        api_key_env: Optional[str] = None,
        api_key: Optional[str] = None,
        http_headers: Optional[Mapping[str, str]] = None,
        query_params: Optional[Mapping[str, str]] = None,
        request_max_retries: Optional[int] = None,
        stream_max_retries: Optional[int] = None,
        stream_idle_timeout_ms: Optional[int] = None,
        cassette: Optional[PathLike] = None,
        record: Optional[PathLike] = None,
        cwd: Optional[PathLike] = None,
        sandbox: Optional[SandboxMode] = None,
        writable_roots: Optional[Sequence[PathLike]] = None,
        network_access: Optional[bool] = None,
        approval_policy: Optional[ApprovalPolicy] = None,
        instructions: Optional[str] = None,
        developer_instructions: Optional[str] = None,
        allowed_tools: Optional[Sequence[str]] = None,
        disallowed_tools: Optional[Sequence[str]] = None,
        shell_tool: Optional[ShellToolKind] = None,
        file_tools: Optional[bool] = None,
        output_schema: Optional[OutputSchema] = None,
        output_schema_retries: Optional[int] = None,
        reasoning_effort: Optional[ReasoningEffort] = None,
        reasoning_summary: Optional[ReasoningSummaryMode] = None,
        max_turns: Optional[int] = None,
        max_tokens: Optional[int] = None,
        max_cost_usd: Optional[float] = None,
        timeout_ms: Optional[int] = None,
        model_prices: Optional[Mapping[str, ModelPrice]] = None,
        model_context_window: Optional[int] = None,
        auto_compact_token_limit: Optional[int] = None,
        auto_compact: Optional[bool] = None,
        command_timeout_ms: Optional[int] = None,
        session_dir: Optional[PathLike] = None,
        ephemeral: Optional[bool] = None,
        shell_environment_policy: Optional[EnvPolicy] = None,
        mcp_servers: Optional[Mapping[str, McpServerConfig]] = None,
        config_overrides: Optional[Mapping[str, Any]] = None,
        load_config_files: Optional[bool] = None,
        codeloop_home: Optional[PathLike] = None,
        trust_project: Optional[bool] = None,
        project_docs: Optional[bool] = None,
        project_doc_max_bytes: Optional[int] = None,
        instruction_files: Optional[Sequence[PathLike]] = None,
        skills: Optional[bool] = None,
        skill_roots: Optional[Sequence[PathLike]] = None,
        tools: Optional[Sequence[Union[Tool, Callable[..., Any]]]] = None,
        can_use_tool: Optional[CanUseTool] = None,
        hooks: Optional[Hooks] = None,
    ) -> None:
        host_tools = [as_tool(t) for t in tools or ()]
        self._output = output_spec(output_schema)
        hook_config, hook_callbacks = _hooks(hooks)
        options: Dict[str, Any] = {
            "model": model,
            "provider": provider,
            "base_url": base_url,
            "wire_api": wire_api,
            "api_key_env": api_key_env,
            "api_key": api_key,
            "http_headers": dict(http_headers) if http_headers is not None else None,
            "query_params": dict(query_params) if query_params is not None else None,
            "request_max_retries": request_max_retries,
            "stream_max_retries": stream_max_retries,
            "stream_idle_timeout_ms": stream_idle_timeout_ms,
            "cassette": _path(cassette),
            "record": _path(record),
            "cwd": _path(cwd),
            "sandbox": sandbox,
            "writable_roots": (
                [os.fspath(p) for p in writable_roots] if writable_roots is not None else None
            ),
            "network_access": network_access,
            "approval_policy": approval_policy,
            "instructions": instructions,
            "developer_instructions": developer_instructions,
            "allowed_tools": list(allowed_tools) if allowed_tools is not None else None,
            "disallowed_tools": list(disallowed_tools) if disallowed_tools is not None else None,
            "shell_tool": shell_tool,
            "file_tools": file_tools,
            "host_tools": [t.spec() for t in host_tools] or None,
            "output_schema": self._output.schema if self._output is not None else None,
            "output_schema_retries": output_schema_retries,
            "reasoning_effort": reasoning_effort,
            "reasoning_summary": reasoning_summary,
            "max_turns": max_turns,
            "max_tokens": max_tokens,
            "max_cost_usd": max_cost_usd,
            "timeout_ms": timeout_ms,
            "model_prices": (
                {k: dict(v) for k, v in model_prices.items()} if model_prices is not None else None
            ),
            "model_context_window": model_context_window,
            "auto_compact_token_limit": auto_compact_token_limit,
            "auto_compact": auto_compact,
            "command_timeout_ms": command_timeout_ms,
            "session_dir": _path(session_dir),
            "ephemeral": ephemeral,
            "shell_environment_policy": (
                dict(shell_environment_policy) if shell_environment_policy is not None else None
            ),
            "mcp_servers": (
                {k: _mcp_server(v) for k, v in mcp_servers.items()}
                if mcp_servers is not None
                else None
            ),
            "config_overrides": dict(config_overrides) if config_overrides is not None else None,
            "load_config_files": load_config_files,
            "codeloop_home": _path(codeloop_home),
            "trust_project": trust_project,
            "project_docs": project_docs,
            "project_doc_max_bytes": project_doc_max_bytes,
            "instruction_files": (
                [os.fspath(p) for p in instruction_files] if instruction_files is not None else None
            ),
            "skills": skills,
            "skill_roots": [os.fspath(p) for p in skill_roots] if skill_roots is not None else None,
            "hooks": hook_config or None,
        }
        options = {k: v for k, v in options.items() if v is not None}
        if can_use_tool is not None and not callable(can_use_tool):
            raise ConfigError("can_use_tool must be callable", code="config")
        self._dispatcher: Optional[Dispatcher] = None
        if host_tools or can_use_tool is not None or hook_callbacks:
            self._dispatcher = Dispatcher(host_tools, can_use_tool, hook_callbacks)
        self._native = _native.Agent(options, self._dispatcher, can_use_tool is not None)

    @property
    def cwd(self) -> str:
        """The resolved working directory."""
        return self._native.cwd

    @property
    def model(self) -> str:
        return self._native.model

    @property
    def options(self) -> Dict[str, Any]:
        """The options as the core read them (``AgentOptions``; key redacted)."""
        return self._native.options()

    @property
    def config_warnings(self) -> List[str]:
        """What was wrong in the config files without stopping the agent
        (each also arrives as an ``error`` event when a thread starts)."""
        return self._native.config_warnings()

    def start_thread(self) -> Thread:
        """A new, empty conversation."""
        return Thread(self._native.start_thread(), self._dispatcher, self._output)

    def resume_thread(self, thread_id: str) -> Thread:
        """Continue conversation ``thread_id`` from its rollout file (under
        ``session_dir``), with its whole history."""
        return Thread(self._native.resume_thread(thread_id), self._dispatcher, self._output)

    def fork_thread(self, thread_id: str, at_turn: Optional[int] = None) -> Thread:
        """A new conversation (new id, new rollout file) starting from thread
        ``thread_id``'s history: all of it, or through the end of turn
        ``at_turn`` (counting from 1). The source is only read. Raises
        :class:`ConfigError` for an unknown id, a turn out of range, or an
        ``ephemeral`` agent."""
        native = self._native.fork_thread(thread_id, at_turn)
        return Thread(native, self._dispatcher, self._output)

    def close(self) -> None:
        """Shut the agent's MCP servers down now, even while its threads
        live (otherwise they stop when the agent and its threads are gone):
        calls in flight fail, and later runs that need the servers raise
        :class:`ConfigError`. Idempotent; waits with the GIL released.
        Leaving a ``with`` / ``async with`` block closes the agent."""
        self._native.close()

    async def close_async(self) -> None:
        """:meth:`close` for asyncio."""
        await _native_future(self._native.close_async)

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_async()

    def __repr__(self) -> str:
        return f"<codeloop.Agent model={self.model!r} cwd={self.cwd!r}>"
