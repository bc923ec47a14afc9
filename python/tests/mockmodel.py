"""The mock model server (tests/mock-server) from Python: start the real
binary, script its replies, read the requests it got. Replies follow the
OpenAI Responses SSE format (see tests/mock-server/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]


def mock_binary() -> Path:
    path = Path(os.environ.get("CODELOOP_MOCK_BIN", ROOT / "target/debug/codeloop-mock-server"))
    if not path.is_file():
        raise RuntimeError(
            f"the mock model server {path} is missing: build it with "
            "`cargo build -p codeloop-mock-server` (make test-python does)"
        )
    return path


class MockModel:
    """A running mock model server."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(mock_binary()), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http://"):
            self.close()
            raise RuntimeError(f"the mock model server did not start: {line!r}")
        self.base_url = line
        self.root = line[: -len("/v1")]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.kill()
        self.process.wait(timeout=10)

    def _call(self, path: str, body: Optional[Any] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path,
            data=data,
            method="GET" if body is None else "POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def push(self, *replies: Dict[str, Any]) -> None:
        """Queue replies, one per model request, in order."""
        self._call("/__mock/replies", list(replies))

    def requests(self) -> List[Dict[str, Any]]:
        """The model requests received so far: ``[{method, path, headers, body}]``."""
        return list(self._call("/__mock/requests"))

    def reset(self) -> None:
        self._call("/__mock/reset", {})


# ----------------------------------------------------------- reply builders

USAGE = {
    "input_tokens": 100,
    "input_tokens_details": {"cached_tokens": 40},
    "output_tokens": 10,
    "output_tokens_details": {"reasoning_tokens": 3},
    "total_tokens": 110,
}


def sse(*events: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    """A Responses SSE reply; ``options`` are the mock's stream options
    (``drop_after``, ``stall_after``, ``delay_ms``...)."""
    return {"kind": "responses", "events": [{"data": e} for e in events], **options}


def created(response_id: str = "resp") -> Dict[str, Any]:
    return {"type": "response.created", "response": {"id": response_id}}


def completed(response_id: str = "resp") -> Dict[str, Any]:
    return {"type": "response.completed", "response": {"id": response_id, "usage": USAGE}}


def done(item: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": 0, "item": item}


def message(text: str, item_id: str = "msg") -> Dict[str, Any]:
    return done(
        {
            "type": "message",
            "id": item_id,
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }
    )


def text_delta(text: str) -> Dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "item_id": "msg",
        "output_index": 0,
        "content_index": 0,
        "delta": text,
    }


def function_call(call_id: str, name: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    return done(
        {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
        }
    )


def custom_tool_call(call_id: str, name: str, text: str) -> Dict[str, Any]:
    return done(
        {
            "type": "custom_tool_call",
            "id": f"ctc_{call_id}",
            "call_id": call_id,
            "name": name,
            "input": text,
        }
    )


def shell_call(call_id: str, command: str) -> Dict[str, Any]:
    return function_call(call_id, "shell_command", {"command": command, "login": False})


def text_turn(text: str, response_id: str = "resp") -> Dict[str, Any]:
    """A reply that answers with ``text`` (streamed as two deltas, then the message)."""
    half = len(text) // 2
    return sse(
        created(response_id),
        text_delta(text[:half]),
        text_delta(text[half:]),
        message(text),
        completed(response_id),
    )


def call_turn(*calls: Dict[str, Any], response_id: str = "resp") -> Dict[str, Any]:
    """A reply made of tool calls."""
    return sse(created(response_id), *calls, completed(response_id))


def http_error(status: int, message: str, code: str = "", **extra: Any) -> Dict[str, Any]:
    return {
        "kind": "http",
        "status": status,
        "body": {"error": {"message": message, "type": "invalid_request_error", "code": code}},
        **extra,
    }


# ---------------------------------------------------------- request readers


def input_texts(request: Dict[str, Any]) -> List[str]:
    """The texts of a request's message items, in order."""
    texts = []
    for item in request["body"]["input"]:
        for part in item.get("content") or []:
            if isinstance(part, dict) and "text" in part:
                texts.append(part["text"])
    return texts


def tool_outputs(request: Dict[str, Any]) -> Dict[str, str]:
    """``call_id -> output`` of a request's tool outputs."""
    return {
        item["call_id"]: item["output"]
        for item in request["body"]["input"]
        if item.get("type") in ("function_call_output", "custom_tool_call_output")
    }


def tool_names(request: Dict[str, Any]) -> List[str]:
    return [tool.get("name", tool.get("type")) for tool in request["body"].get("tools", [])]
