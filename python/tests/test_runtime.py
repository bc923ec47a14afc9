"""Runtime discipline: the GIL released while the core works, many threads
at once from asyncio and from Python threads, interrupts from another thread
and from Ctrl-C, fork safety."""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import List

import pytest
from conftest import AgentFactory
from mockmodel import (
    ROOT,
    MockModel,
    call_turn,
    created,
    function_call,
    message,
    sse,
    text_delta,
    text_turn,
    tool_outputs,
)

import codeloop


def test_many_threads_at_once_from_asyncio(mock: MockModel, make_agent: AgentFactory) -> None:
    n = 40
    # One reply per thread; which thread gets which is up to the scheduler.
    mock.push(*(text_turn(f"answer {i}") for i in range(n)))
    agent = make_agent()

    async def main() -> List[codeloop.RunResult]:
        threads = [agent.start_thread() for _ in range(n)]
        return await asyncio.gather(*(t.run_async(f"question {i}") for i, t in enumerate(threads)))

    results = asyncio.run(main())
    assert sorted(r.final_response for r in results) == sorted(f"answer {i}" for i in range(n))
    assert len({r.thread_id for r in results}) == n
    assert len(mock.requests()) == n


def test_many_threads_at_once_from_python_threads(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    n = 24
    mock.push(*(text_turn(f"answer {i}") for i in range(n)))
    agent = make_agent()

    def one(i: int) -> str:
        return agent.start_thread().run(f"question {i}").final_response

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(n)))
    assert sorted(answers) == sorted(f"answer {i}" for i in range(n))


def test_streams_consumed_from_several_python_threads(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    n = 8
    mock.push(*(text_turn(f"streamed {i}") for i in range(n)))
    agent = make_agent()

    def consume(i: int) -> str:
        run = agent.start_thread().run_streamed(f"q{i}")
        return "".join(e["delta"] for e in run if e["type"] == "item.delta")

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        texts = list(pool.map(consume, range(n)))
    assert sorted(texts) == sorted(f"streamed {i}" for i in range(n))


def test_the_gil_is_released_while_a_turn_waits(mock: MockModel, make_agent: AgentFactory) -> None:
    # The model takes 400 ms to answer; a Python thread counts meanwhile.
    reply = text_turn("slow answer")
    reply["events"][0]["delay_ms"] = 400
    mock.push(reply)
    agent = make_agent()
    stop = threading.Event()
    count = 0

    def spin() -> None:
        nonlocal count
        while not stop.is_set():
            count += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        before = count
        result = agent.start_thread().run("take your time")
        during = count - before
    finally:
        stop.set()
        spinner.join()
    assert result.final_response == "slow answer"
    # Holding the GIL for 400 ms would leave the counter almost still; free,
    # it counts hundreds of thousands.
    assert during > 10_000, during


def blocking_tool(started: threading.Event, release: threading.Event) -> codeloop.Tool:
    """A tool that says it started, then blocks until released: a turn
    that is certainly running (its model reply consumed) until interrupted."""

    @codeloop.tool
    def wait_here() -> str:
        """Block."""
        started.set()
        release.wait(60)
        return "released"

    return wait_here


def test_interrupt_from_another_thread(mock: MockModel, make_agent: AgentFactory) -> None:
    started, release = threading.Event(), threading.Event()
    mock.push(call_turn(function_call("c1", "wait_here", {})))
    thread = make_agent(tools=[blocking_tool(started, release)]).start_thread()
    interrupter = threading.Thread(target=lambda: (started.wait(30), thread.interrupt()))
    interrupter.start()
    try:
        with pytest.raises(codeloop.TurnInterrupted) as info:
            thread.run("block")
    finally:
        release.set()
        interrupter.join()
    assert info.value.code == "interrupted"

    # The thread runs again at once.
    mock.push(text_turn("back"))
    assert thread.run("again").final_response == "back"
    assert "interrupted" in tool_outputs(mock.requests()[1])["c1"]


def test_cancelling_an_async_run_interrupts_the_turn(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    mock.push(call_turn(function_call("c1", "wait_here", {})), text_turn("next"))

    async def main() -> str:
        started, release = asyncio.Event(), asyncio.Event()

        @codeloop.tool
        async def wait_here() -> str:
            """Block until released."""
            started.set()
            await release.wait()
            return "released"

        thread = make_agent(tools=[wait_here]).start_thread()
        task = asyncio.ensure_future(thread.run_async("block"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        # The cancelled run wound down: the thread is free at once.
        return (await thread.run_async("next")).final_response

    assert asyncio.run(main()) == "next"
    assert "interrupted" in tool_outputs(mock.requests()[1])["c1"]


def test_a_cancelled_async_for_keeps_its_events(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(sse(created(), text_delta("stalling"), stall_after=2))

    async def main() -> List[str]:
        run = make_agent().start_thread().run_streamed("stall")
        types = []
        async for event in run:
            types.append(event["type"])
            if event["type"] == "item.delta":
                break
        # Waiting for the next event never ends (the model stalls):
        # cancelling the wait interrupts the turn, whose end still arrives.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(run.__anext__(), 0.2)
        types.extend([event["type"] async for event in run])
        return types

    types = asyncio.run(main())
    assert types[-1] == "turn.failed"
    assert types[:3] == ["thread.started", "turn.started", "item.delta"]


def test_keyboard_interrupt_in_the_main_thread_interrupts_the_turn(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    @codeloop.tool
    def press_ctrl_c() -> str:
        """Simulate Ctrl-C."""
        # What the SIGINT handler does: set the flag the waiting main thread polls.
        _thread.interrupt_main()
        return "pressed"

    mock.push(
        call_turn(function_call("c1", "press_ctrl_c", {})),
        sse(created(), text_delta("stalling"), stall_after=2),
    )
    thread = make_agent(tools=[press_ctrl_c]).start_thread()
    with pytest.raises(KeyboardInterrupt):
        thread.run("press it")
    mock.reset()  # drop the stalled reply, if the interrupt came before its request
    mock.push(text_turn("still usable"))
    assert thread.run("again").final_response == "still usable"


SIGINT_SCRIPT = textwrap.dedent(
    """
    import sys, threading, codeloop
    base_url = sys.argv[1]
    release = threading.Event()

    @codeloop.tool
    def wait_here() -> str:
        \"\"\"Block until released.\"\"\"
        print("READY", flush=True)
        release.wait(60)
        return "released"

    agent = codeloop.Agent(model="m", base_url=base_url, api_key="k", ephemeral=True,
                           stream_max_retries=0, tools=[wait_here])
    thread = agent.start_thread()
    try:
        thread.run("block")
        print("NOT INTERRUPTED", flush=True)
    except KeyboardInterrupt:
        print("KEYBOARD INTERRUPT", flush=True)
    release.set()
    print("AFTER:", thread.run("again").final_response, flush=True)
    """
)


def test_ctrl_c_during_run_in_a_real_process(mock: MockModel, tmp_path: Path) -> None:
    mock.push(call_turn(function_call("c1", "wait_here", {})), text_turn("recovered"))
    script = tmp_path / "sigint.py"
    script.write_text(SIGINT_SCRIPT)
    child = subprocess.Popen(
        [sys.executable, str(script), mock.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.splitlines() == ["KEYBOARD INTERRUPT", "AFTER: recovered"]


FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys, codeloop
    base_url = sys.argv[1]
    agent = codeloop.Agent(model="m", base_url=base_url, api_key="k", ephemeral=True)
    print("parent:", agent.start_thread().run("hi").final_response, flush=True)
    pid = os.fork()
    if pid == 0:
        try:
            agent.start_thread().run("in the child")
            code = 1
        except codeloop.ForkedProcessError as e:
            print("child:", type(e).__name__, "forked" in str(e), flush=True)
            code = 0
        try:
            codeloop.Agent(model="m", base_url=base_url, api_key="k")
            code = 1
        except codeloop.ForkedProcessError:
            print("child: new agents refused too", flush=True)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child exit:", os.waitstatus_to_exitcode(status), flush=True)
    print("parent again:", agent.start_thread().run("hi").final_response, flush=True)
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_gets_a_clear_error_not_a_hang(mock: MockModel, tmp_path: Path) -> None:
    mock.push(text_turn("before fork"), text_turn("after fork"))
    script = tmp_path / "fork.py"
    script.write_text(FORK_SCRIPT)
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(script), mock.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "parent: before fork",
        "child: ForkedProcessError True",
        "child: new agents refused too",
        "child exit: 0",
        "parent again: after fork",
    ]


def test_a_child_forked_before_first_use_can_use_codeloop(mock: MockModel, tmp_path: Path) -> None:
    script = tmp_path / "fork_early.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, codeloop
            pid = os.fork()
            if pid == 0:
                agent = codeloop.Agent(model="m", base_url=sys.argv[1], api_key="k", ephemeral=True)
                print(agent.start_thread().run("hi").final_response, flush=True)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        )
    )
    mock.push(text_turn("the child ran"))
    done = subprocess.run(
        [sys.executable, str(script), mock.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the child ran"


def test_a_sync_tool_can_run_another_agent(mock: MockModel, make_agent: AgentFactory) -> None:
    """A tool runs on a codeloop thread; a blocking run from there must work."""
    inner_agent = make_agent()

    @codeloop.tool
    def ask_expert(question: str) -> str:
        """Ask another agent."""
        return inner_agent.start_thread().run(question).final_response

    mock.push(
        call_turn(function_call("c1", "ask_expert", {"question": "what is 6*7?"})),
        text_turn("42"),
        text_turn("the expert says 42"),
    )
    result = make_agent(tools=[ask_expert]).start_thread().run("ask the expert")
    assert result.final_response == "the expert says 42"
    assert tool_outputs(mock.requests()[2])["c1"] == "42"


def test_a_message_without_deltas(mock: MockModel, make_agent: AgentFactory) -> None:
    mock.push(
        sse(
            created(),
            message("no deltas at all"),
            {"type": "response.completed", "response": {"id": "r"}},
        )
    )
    assert make_agent().start_thread().run("x").final_response == "no deltas at all"


def test_package_imports_in_a_fresh_interpreter_quickly() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import codeloop"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "python" / "tests",
    )
    assert done.returncode == 0, done.stderr
    total = sum(
        int(line.split("|")[1])
        for line in done.stderr.splitlines()
        if "codeloop" in line and line.split("|")[2].strip() == "codeloop"
    )
    # Cumulative import time of the package (microseconds): well under a second.
    assert 0 < total < 1_000_000, done.stderr


def test_interrupting_a_finished_run_leaves_the_threads_next_turn_alone(
    mock: MockModel, make_agent: AgentFactory
) -> None:
    started, release = threading.Event(), threading.Event()
    mock.push(
        text_turn("first"),
        call_turn(function_call("c1", "wait_here", {})),
        text_turn("second"),
    )
    thread = make_agent(tools=[blocking_tool(started, release)]).start_thread()
    first = thread.run_streamed("one")
    assert first.result().final_response == "first"
    second = thread.run_streamed("two")
    assert started.wait(30)  # the second turn is in its tool call
    first.interrupt()  # a stale handle: must not reach the second turn
    first.close()
    release.set()
    assert second.result().final_response == "second"
    assert tool_outputs(mock.requests()[2])["c1"] == "released"
