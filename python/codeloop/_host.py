"""The Python side of the host bridge: the one object the native `Host`
calls (``dispatch(kind, payload, reply)``), which runs this program's tools,
``can_use_tool`` and hooks and answers through ``reply``.

``dispatch`` is called on a codeloop blocking thread with the GIL held. A
plain function runs right there. A coroutine function's coroutine goes to an
asyncio loop: the caller's, when the run is consumed with the async API
(``await run_async``, ``async for``), else a loop thread the package owns.
Whatever happens, the request is answered: a value, an error result for a
tool, or a failure that fails the turn with ``HostCallbackError``.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence

from . import _native
from .tools import Tool, ToolContext, tool_output

if TYPE_CHECKING:
    # Imported where used: a program without async callbacks never needs asyncio.
    import asyncio
    import concurrent.futures

__all__ = ["Dispatcher", "package_loop"]

log = logging.getLogger("codeloop")

HOOK_NAMES = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop")
_DECISIONS = ("approve", "approve_for_session", "deny", "abort")
_OUTCOME_KEYS = frozenset({"decision", "reason", "updated_input", "additional_context"})
_HOOK_DECISIONS = ("continue", "allow", "deny")


class _LoopThread:
    """An asyncio loop on a daemon thread, started on first use: where async
    callbacks of runs consumed synchronously are awaited."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                import asyncio

                loop = asyncio.new_event_loop()
                started = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                threading.Thread(target=run, name="codeloop-asyncio", daemon=True).start()
                started.wait()
                self._loop = loop
            return self._loop

    def after_fork(self) -> None:
        # The thread did not survive the fork; a lock held by it might be
        # held forever. Start over in the child.
        self._lock = threading.Lock()
        self._loop = None


_PACKAGE_LOOP = _LoopThread()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_PACKAGE_LOOP.after_fork)


def package_loop() -> asyncio.AbstractEventLoop:
    """The package's own asyncio loop (started on first use)."""
    return _PACKAGE_LOOP.get()


def _describe(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


class Dispatcher:
    """Answers the host requests of one agent."""

    def __init__(
        self,
        tools: Sequence[Tool],
        can_use_tool: Optional[Callable[[Any], Any]],
        hooks: Mapping[str, Sequence[Callable[[Any], Any]]],
    ) -> None:
        self.tools: Dict[str, Tool] = {t.name: t for t in tools}
        self.can_use_tool = can_use_tool
        self.hooks: Dict[str, List[Callable[[Any], Any]]] = {k: list(v) for k, v in hooks.items()}
        # Weak: a loop that asyncio.run() closed and dropped takes its
        # threads' entries with it.
        self._loops: weakref.WeakValueDictionary[str, asyncio.AbstractEventLoop] = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()

    # -- where coroutines run

    def bind(self, thread_id: str, loop: Optional[asyncio.AbstractEventLoop]) -> None:
        """Send the async callbacks of ``thread_id``'s run to ``loop``
        (``None``: the package loop)."""
        with self._lock:
            if loop is None:
                self._loops.pop(thread_id, None)
            else:
                self._loops[thread_id] = loop

    def _loop_for(self, thread_id: str) -> asyncio.AbstractEventLoop:
        with self._lock:
            loop = self._loops.get(thread_id)
        if loop is None or loop.is_closed():
            return package_loop()
        return loop

    def _settle(
        self,
        thread_id: str,
        compute: Callable[[], Any],
        on_value: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Run ``compute``; if it gives an awaitable, await it on the run's
        loop. Exactly one of ``on_value``/``on_error`` is called; an
        exception from ``on_value`` goes to ``on_error``."""
        try:
            result = compute()
        except BaseException as exc:
            on_error(exc)
            return
        if not inspect.isawaitable(result):
            try:
                on_value(result)
            except BaseException as exc:
                on_error(exc)
            return

        import asyncio

        awaitable: Awaitable[Any] = result

        async def wait() -> Any:
            return await awaitable

        def done(future: concurrent.futures.Future[Any]) -> None:
            try:
                value = future.result()
            except BaseException as exc:
                on_error(exc)
                return
            try:
                on_value(value)
            except BaseException as exc:
                on_error(exc)

        coroutine = wait()
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop_for(thread_id))
        except BaseException as exc:
            coroutine.close()
            on_error(exc)
            return
        future.add_done_callback(done)

    # -- the native entry point

    def dispatch(self, kind: str, payload: Any, reply: _native.Reply) -> None:
        try:
            if kind == "tool":
                self._tool(payload, reply)
            elif kind == "approve":
                self._approve(payload, reply)
            elif kind == "hook":
                self._hook(payload, reply)
            else:
                raise ValueError(f"unknown host request kind {kind!r}")
        except BaseException as exc:  # answer the turn whatever happened
            reply.fail(exc, f"the {kind} request failed: {type(exc).__name__}: {exc}")

    def _tool(self, call: Dict[str, Any], reply: _native.Reply) -> None:
        name = call["name"]
        tool = self.tools.get(name)
        if tool is None:
            reply.ok({"type": "error", "message": f"no handler is registered for tool `{name}`"})
            return
        context = ToolContext(thread_id=call["thread_id"], call_id=call["call_id"], tool_name=name)

        def on_value(value: Any) -> None:
            reply.ok({"type": "output", "output": tool_output(value)})

        def on_error(exc: BaseException) -> None:
            # The model reads this and may try again: the turn goes on.
            log.debug("tool %s raised", name, exc_info=exc)
            reply.ok({"type": "error", "message": f"{type(exc).__name__}: {exc}"})

        self._settle(
            call["thread_id"], lambda: tool.invoke(call["arguments"], context), on_value, on_error
        )

    def _approve(self, request: Dict[str, Any], reply: _native.Reply) -> None:
        decide = self.can_use_tool
        if decide is None:
            reply.ok("deny")
            return

        def on_value(value: Any) -> None:
            reply.ok(_decision(value))

        def on_error(exc: BaseException) -> None:
            reply.fail(exc, f"can_use_tool raised {type(exc).__name__}: {exc}")

        self._settle(request["thread_id"], lambda: decide(request), on_value, on_error)

    def _hook(self, event: Dict[str, Any], reply: _native.Reply) -> None:
        name = event["hook_event_name"]
        handlers = self.hooks.get(name, [])

        def on_value(value: Any) -> None:
            reply.ok(value)

        def on_error(exc: BaseException) -> None:
            reply.fail(exc, f"the {name} hook raised {type(exc).__name__}: {exc}")

        self._settle(event["session_id"], lambda: _run_hooks(handlers, event), on_value, on_error)


def _decision(value: Any) -> str:
    if value is True:
        return "approve"
    if value is False:
        return "deny"
    if isinstance(value, str) and value in _DECISIONS:
        return value
    raise TypeError(
        f"can_use_tool must return True, False or one of {', '.join(map(repr, _DECISIONS))}; "
        f"it returned {value!r}"
    )


def _outcome(handler: Any, value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(
            f"hook {_describe(handler)} must return None or a dict (HookOutcome), "
            f"not {type(value).__name__}"
        )
    unknown = set(value) - _OUTCOME_KEYS
    if unknown:
        raise TypeError(
            f"hook {_describe(handler)} returned unknown key(s) {sorted(unknown)}; "
            f"a HookOutcome has {sorted(_OUTCOME_KEYS)}"
        )
    decision = value.get("decision", "continue")
    if decision not in _HOOK_DECISIONS:
        raise TypeError(
            f"hook {_describe(handler)} returned decision {decision!r}; "
            f"expected one of {', '.join(map(repr, _HOOK_DECISIONS))}"
        )
    return dict(value)


def _merge(total: Dict[str, Any], outcome: Dict[str, Any], event: Dict[str, Any]) -> bool:
    """Fold one handler's outcome into ``total``; True when it denied (the
    handlers after it do not run)."""
    decision = outcome.get("decision", "continue")
    if outcome.get("additional_context"):
        previous = total.get("additional_context")
        context = outcome["additional_context"]
        total["additional_context"] = f"{previous}\n{context}" if previous else context
    if "updated_input" in outcome and outcome["updated_input"] is not None:
        total["updated_input"] = outcome["updated_input"]
        # The next handler sees the input as it now stands.
        event["tool_input"] = outcome["updated_input"]
    if decision == "deny":
        total["decision"] = "deny"
        total["reason"] = outcome.get("reason")
        return True
    if decision == "allow":
        total["decision"] = "allow"
        if outcome.get("reason"):
            total["reason"] = outcome["reason"]
    return False


def _run_hooks(handlers: Sequence[Callable[[Any], Any]], event: Dict[str, Any]) -> Any:
    """Run the handlers of one hook in order: a dict outcome, or an awaitable
    of one when a handler is async."""
    total: Dict[str, Any] = {}
    for index, handler in enumerate(handlers):
        result = handler(event)
        if inspect.isawaitable(result):
            return _run_hooks_async(handlers, index, result, event, total)
        if _merge(total, _outcome(handler, result), event):
            break
    return total


async def _run_hooks_async(
    handlers: Sequence[Callable[[Any], Any]],
    index: int,
    pending: Awaitable[Any],
    event: Dict[str, Any],
    total: Dict[str, Any],
) -> Dict[str, Any]:
    if _merge(total, _outcome(handlers[index], await pending), event):
        return total
    for handler in handlers[index + 1 :]:
        result = handler(event)
        if inspect.isawaitable(result):
            result = await result
        if _merge(total, _outcome(handler, result), event):
            break
    return total
