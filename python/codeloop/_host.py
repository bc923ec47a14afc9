"""The Python side of the host bridge: the one object the native `Host`
calls (``dispatch(kind, payload, reply)``), which runs this program's tools,
``can_use_tool`` and hooks and answers through ``reply``.

Answers go to the core as the callbacks gave them: the core reads them
(``True``/``False`` or a decision name from ``can_use_tool``, a
``HookOutcome`` from a hook) and chains the hooks of an event itself — each
Python hook is a ``{"type": "callback", "id"}`` handler of the ``hooks``
option, asked for by its ``callback_id``.

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
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Mapping, Optional, Sequence

from . import _native
from .tools import Tool, ToolContext, tool_output

if TYPE_CHECKING:
    # Imported where used: a program without async callbacks never needs asyncio.
    import asyncio
    import concurrent.futures

__all__ = ["Dispatcher", "package_loop"]

log = logging.getLogger("codeloop")

HOOK_NAMES = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop")


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
        hooks: Mapping[str, Callable[[Any], Any]],
    ) -> None:
        self.tools: Dict[str, Tool] = {t.name: t for t in tools}
        self.can_use_tool = can_use_tool
        #: Hook callbacks by the id they are registered under in the options.
        self.hooks: Dict[str, Callable[[Any], Any]] = dict(hooks)
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
            # True/False or a decision name: the core reads it.
            reply.ok(value)

        def on_error(exc: BaseException) -> None:
            reply.fail(exc, f"can_use_tool raised {type(exc).__name__}: {exc}")

        self._settle(request["thread_id"], lambda: decide(request), on_value, on_error)

    def _hook(self, event: Dict[str, Any], reply: _native.Reply) -> None:
        name = event["hook_event_name"]
        callback_id = event.pop("callback_id", None)
        handler = self.hooks.get(callback_id) if isinstance(callback_id, str) else None
        if handler is None:
            raise LookupError(f"no {name} hook is registered as {callback_id!r}")

        def on_value(value: Any) -> None:
            # None is Python's "nothing to say": the default outcome.
            reply.ok({} if value is None else value)

        def on_error(exc: BaseException) -> None:
            reply.fail(
                exc, f"the {name} hook {_describe(handler)} raised {type(exc).__name__}: {exc}"
            )

        self._settle(event["session_id"], lambda: handler(event), on_value, on_error)
