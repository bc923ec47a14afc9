"""A small FastMCP server over streamable HTTP for codeloop's MCP client tests.

Usage: python fastmcp_server.py

Binds 127.0.0.1 on a free port and prints one line, ``READY <url>``, once
the socket listens. Every request must carry ``Authorization: Bearer
$MCP_TEST_TOKEN`` (401 otherwise). Requests seen are counted per method
(``DELETE`` too) and reported by the ``stats`` tool and by ``GET /stats``
(no token needed).
"""

import asyncio
import json
import os
import socket
import sys

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.dependencies import get_http_headers

TOKEN = os.environ["MCP_TEST_TOKEN"]
SEEN = {"methods": {}, "unauthorized": 0}

mcp = FastMCP("codeloop-test")


@mcp.tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@mcp.tool
def header(name: str) -> str:
    """Return the value of an HTTP header of the current request ('' if absent)."""
    return get_http_headers(include_all=True).get(name.lower(), "")


@mcp.tool
def fail(message: str) -> str:
    """Always fails with the given message."""
    raise ValueError(message)


@mcp.tool
def stats() -> dict:
    """Requests seen so far, by HTTP method, and how many were refused."""
    return SEEN


class BearerAuth:
    """Refuse requests without the expected bearer token."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/stats":
            # Unauthenticated and not counted: for the test to poll.
            body = json.dumps(SEEN).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            method = scope["method"]
            SEEN["methods"][method] = SEEN["methods"].get(method, 0) + 1
            if headers.get(b"authorization") != f"Bearer {TOKEN}".encode():
                SEEN["unauthorized"] += 1
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": b"bad token"})
                return
        await self.app(scope, receive, send)


def main() -> None:
    app = mcp.http_app(path="/mcp")
    app = BearerAuth(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # The socket already listens: a client connecting now waits in the backlog.
    print(f"READY http://127.0.0.1:{port}/mcp", flush=True)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    sys.exit(main())
