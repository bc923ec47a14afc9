"""Fixtures: one mock model server per test session (reset before each
test) and agents pointed at it, working in a fresh temporary directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from mockmodel import MockModel

import codeloop


@pytest.fixture(scope="session", autouse=True)
def _empty_codeloop_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Agents made without ``codeloop_home`` (and child processes) read an
    empty home too, never the machine's ~/.codeloop."""
    previous = os.environ.get("CODELOOP_HOME")
    os.environ["CODELOOP_HOME"] = str(tmp_path_factory.mktemp("codeloop-home"))
    yield
    if previous is None:
        del os.environ["CODELOOP_HOME"]
    else:
        os.environ["CODELOOP_HOME"] = previous


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockModel]:
    server = MockModel()
    yield server
    server.close()


@pytest.fixture
def mock(mock_server: MockModel) -> MockModel:
    mock_server.reset()
    return mock_server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


AgentFactory = Callable[..., codeloop.Agent]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty codeloop home, so no test reads the machine's ~/.codeloop."""
    path = tmp_path / "codeloop-home"
    path.mkdir()
    return path


@pytest.fixture
def make_agent(mock: MockModel, workdir: Path, home: Path) -> AgentFactory:
    """``make_agent(**options)``: an agent on the mock model, in ``workdir``,
    with an empty codeloop home, keeping no sessions, failing fast (no
    retries) unless told otherwise."""

    def make(**options: Any) -> codeloop.Agent:
        settings: dict[str, Any] = {
            "model": "mock-model",
            "base_url": mock.base_url,
            "api_key": "test-key",
            "cwd": workdir,
            "codeloop_home": home,
            "ephemeral": True,
            "request_max_retries": 0,
            "stream_max_retries": 0,
            # A stalled stream fails a broken test in seconds, not minutes.
            "stream_idle_timeout_ms": 20_000,
        }
        settings.update(options)
        return codeloop.Agent(**settings)

    return make


@pytest.fixture
def spawn_mock() -> Iterator[Callable[[], MockModel]]:
    """More mock model servers, for tests whose threads each need their own
    script (one server's replies are one FIFO queue)."""
    servers: list[MockModel] = []

    def spawn() -> MockModel:
        server = MockModel()
        servers.append(server)
        return server

    yield spawn
    for server in servers:
        server.close()
