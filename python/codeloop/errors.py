"""The exceptions of codeloop.

Every error the SDK raises is a :class:`CodeloopError`. Its ``code`` is the
core's error code (the ``code`` of a ``turn.failed`` event), so one ``except``
clause per kind of failure is enough::

    try:
        thread.run("fix the tests")
    except codeloop.TurnInterrupted:
        ...  # Ctrl-C, thread.interrupt(), or a run cancelled by asyncio
    except codeloop.ModelError as e:
        ...  # the model API failed: e.code is "model_api", "unauthorized", ...
    except codeloop.HostCallbackError as e:
        ...  # a tool hook or can_use_tool raised: e.__cause__ is that exception

A failed turn keeps its items and the thread can run again.
"""

from __future__ import annotations

from typing import List, Optional

__all__ = [
    "APIError",
    "AuthenticationError",
    "BudgetExceededError",
    "BusyError",
    "CodeloopError",
    "ConfigError",
    "ContextWindowError",
    "ForkedProcessError",
    "HostCallbackError",
    "InternalError",
    "LocalIOError",
    "ModelError",
    "NoActiveTurnError",
    "OutputInvalidError",
    "PatchError",
    "QuotaExceededError",
    "ReplayError",
    "SandboxError",
    "StreamError",
    "TurnInterrupted",
]


class CodeloopError(Exception):
    """Base class of every codeloop error."""

    #: The core's error code (``"model_api"``, ``"interrupted"``, ...).
    code: Optional[str] = None

    def __init__(self, message: str = "", *, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ModelError(CodeloopError):
    """The model or its API failed; see the subclasses."""


class APIError(ModelError):
    """The model API rejected the request or reported a failed response.

    Retrying the same request will not help: fix the model name, the
    provider settings or the request.
    """

    code = "model_api"
    #: The HTTP status, when the API answered with one.
    status: Optional[int] = None


class AuthenticationError(ModelError):
    """The API key is missing or was rejected (401/403)."""

    code = "unauthorized"


class ContextWindowError(ModelError):
    """The conversation no longer fits the model's context window."""

    code = "context_window_exceeded"


class QuotaExceededError(ModelError):
    """The account's quota is used up."""

    code = "quota_exceeded"


class StreamError(ModelError):
    """The connection or the response stream failed after every retry."""

    code = "stream"


class ReplayError(ModelError):
    """A replay cassette had no exchange matching the request."""

    code = "replay"


class TurnInterrupted(CodeloopError):
    """The turn was interrupted (``thread.interrupt()``, Ctrl-C, cancellation).

    Named so as not to shadow the builtin ``InterruptedError``.
    """

    code = "interrupted"


class BudgetExceededError(CodeloopError):
    """A budget (``max_turns``, ``max_tokens``, ``max_cost_usd``,
    ``timeout_ms``) ran out. The items so far are kept and the thread can
    run again (or be resumed)."""

    code = "budget_exceeded"


class OutputInvalidError(CodeloopError, ValueError):
    """The final answer did not match the output schema (or was not JSON),
    after every re-ask (``output_schema_retries``). The answer itself is the
    turn's last ``agent_message``."""

    code = "output_invalid"

    def __init__(
        self, message: str = "", *, code: Optional[str] = None, errors: Optional[List[str]] = None
    ) -> None:
        super().__init__(message, code=code)
        #: The validation messages (``"at /answer: 5 is not of type 'string'"``).
        self.errors: List[str] = list(errors or ())


class NoActiveTurnError(CodeloopError, RuntimeError):
    """``thread.steer()`` was called while no turn runs: start a run instead."""

    code = "no_active_turn"


class SandboxError(CodeloopError):
    """The sandbox refused to run something, or cannot be enforced here."""

    code = "sandbox"


class ConfigError(CodeloopError, ValueError):
    """Options or configuration are invalid; the message names the bad value."""

    code = "config"


class HostCallbackError(CodeloopError):
    """A callback of this program (a hook, ``can_use_tool``) raised or
    answered something invalid. ``__cause__`` is the original exception.

    A host *tool* that raises does not fail the turn: the model gets the
    error as the tool's result.
    """

    code = "host"


class BusyError(CodeloopError, RuntimeError):
    """A turn is already running on this thread."""

    code = "busy"


class LocalIOError(CodeloopError, OSError):
    """A local file operation of the core failed (rollout files, cwd)."""

    code = "io"


class InternalError(CodeloopError):
    """A bug in codeloop. Please report it."""

    code = "internal"


class ForkedProcessError(CodeloopError, RuntimeError):
    """codeloop was used in a child forked after its runtime started.

    Start children with multiprocessing's ``spawn`` or ``forkserver`` method,
    or fork before using codeloop.
    """

    code = "forked"


class PatchError(CodeloopError, ValueError):
    """:func:`codeloop.apply_patch` could not apply a patch."""

    code = "patch"
    #: Whether the files are as they were (always, unless a rollback failed).
    tree_untouched: bool = True
