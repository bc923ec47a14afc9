"""Benchmarks of the Python SDK against the mock model server (loopback).

    make bench-python        # builds a release wheel into .venv, then runs this

1. import to first event: a fresh interpreter imports codeloop, creates an
   agent and a thread, starts a turn and receives its first event;
2. one turn with one shell call (`true`): model request, command, model
   request; median of many, through the sync API;
3. events per second delivered to Python from one turn that streams 100,000
   text deltas (for and async for);
4. peak RSS of one process with 1,000 threads (conversations) each waiting
   in the middle of a turn for a model that does not answer.

Baseline, from the issue: the Codex CLI takes about 0.5 s and 150 MB for the
one-shell-call turn (a process per agent). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
CODEX_TURN_S = 0.5
CODEX_RSS_MB = 150.0


class Mock:
    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        self.root = self.base_url[: -len("/v1")]

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def push(self, *replies: Dict[str, Any]) -> None:
        self.call("/__mock/replies", list(replies))

    def reset(self) -> None:
        self.call("/__mock/reset", {})

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.kill()
        self.process.wait()


USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 1,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 11,
}


def reply(*events: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    return {"kind": "responses", "events": [{"data": e} for e in events], **options}


def created() -> Dict[str, Any]:
    return {"type": "response.created", "response": {"id": "r"}}


def completed() -> Dict[str, Any]:
    return {"type": "response.completed", "response": {"id": "r", "usage": USAGE}}


def message(text: str) -> Dict[str, Any]:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    return {"type": "response.output_item.done", "output_index": 0, "item": item}


def shell(command: str) -> Dict[str, Any]:
    item = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "shell_command",
        "arguments": json.dumps({"command": command, "login": False}),
    }
    return {"type": "response.output_item.done", "output_index": 0, "item": item}


def delta(text: str) -> Dict[str, Any]:
    return {"type": "response.output_text.delta", "item_id": "m", "delta": text}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ------------------------------------------------------------------ 1.

FIRST_EVENT = textwrap.dedent(
    """
    import sys, time
    start = time.perf_counter()
    import codeloop
    imported = time.perf_counter()
    agent = codeloop.Agent(model="bench", base_url=sys.argv[1], api_key="k", ephemeral=True)
    run = agent.start_thread().run_streamed("hi")
    first = next(run)
    end = time.perf_counter()
    run.result()
    print(imported - start, end - start, first["type"])
    """
)


def first_event(mock: Mock, runs: int) -> Dict[str, float]:
    imports, firsts, wall = [], [], []
    for _ in range(runs):
        mock.push(reply(created(), message("hi"), completed()))
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", FIRST_EVENT, mock.base_url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        wall.append(time.perf_counter() - started)
        assert out[2] == "thread.started", out
        imports.append(float(out[0]))
        firsts.append(float(out[1]))
    return {
        "import_s": statistics.median(imports),
        "import_to_first_event_s": statistics.median(firsts),
        "process_start_to_exit_s": statistics.median(wall),
    }


# ------------------------------------------------------------------ 2.


def shell_turn(mock: Mock, runs: int) -> Dict[str, float]:
    import codeloop

    with tempfile.TemporaryDirectory() as work:
        agent = codeloop.Agent(
            model="bench",
            base_url=mock.base_url,
            api_key="k",
            cwd=work,
            sandbox="danger-full-access",
            ephemeral=True,
        )
        times: List[float] = []
        for i in range(runs + 5):
            mock.push(
                reply(created(), shell("true"), completed()),
                reply(created(), message("done"), completed()),
            )
            thread = agent.start_thread()
            start = time.perf_counter()
            result = thread.run("run true")
            elapsed = time.perf_counter() - start
            assert result.final_response == "done"
            assert any(i["type"] == "command_execution" for i in result.items)
            if i >= 5:  # warm-up
                times.append(elapsed)
    times.sort()
    return {
        "median_s": statistics.median(times),
        "p90_s": times[int(len(times) * 0.9) - 1],
    }


# ------------------------------------------------------------------ 3.


def stream_rate(mock: Mock, count: int) -> Dict[str, float]:
    import codeloop

    agent = codeloop.Agent(model="bench", base_url=mock.base_url, api_key="k", ephemeral=True)
    script = reply(
        created(), *(delta("x") for _ in range(count)), message("x" * count), completed()
    )
    results: Dict[str, float] = {}

    mock.push(script)
    start = time.perf_counter()
    deltas = 0
    for event in agent.start_thread().run_streamed("stream"):
        if event["type"] == "item.delta":
            deltas += 1
    elapsed = time.perf_counter() - start
    assert deltas == count, deltas
    results["sync_events_per_s"] = deltas / elapsed
    results["sync_turn_s"] = elapsed

    async def consume() -> int:
        n = 0
        async for event in agent.start_thread().run_streamed("stream"):
            if event["type"] == "item.delta":
                n += 1
        return n

    mock.push(script)
    start = time.perf_counter()
    deltas = asyncio.run(consume())
    elapsed = time.perf_counter() - start
    assert deltas == count, deltas
    results["async_events_per_s"] = deltas / elapsed
    results["async_turn_s"] = elapsed
    return results


# ------------------------------------------------------------------ 4.

IDLE_THREADS = textwrap.dedent(
    """
    import json, sys, time, urllib.request
    def rss_kb(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1])
    base_url, count = sys.argv[1], int(sys.argv[2])
    import codeloop
    agent = codeloop.Agent(model="bench", base_url=base_url, api_key="k", ephemeral=True)
    agent.start_thread()
    before = rss_kb("VmRSS:")
    threads = [agent.start_thread() for _ in range(count)]
    at_rest = rss_kb("VmRSS:")
    runs = [t.run_streamed("wait") for t in threads]
    # Every turn is waiting once the mock has seen every request.
    root = base_url[: -len("/v1")]
    while True:
        with urllib.request.urlopen(root + "/__mock/requests") as r:
            if len(json.loads(r.read())) >= count:
                break
        time.sleep(0.05)
    for run in runs:  # the first events are in: each turn is mid-request
        next(run)
    peak = rss_kb("VmHWM:")
    now = rss_kb("VmRSS:")
    for run in runs:
        run.interrupt()
    for run in runs:
        for _ in run:
            pass
    print(before, at_rest, now, peak)
    """
)


def idle_threads(mock: Mock, count: int) -> Dict[str, float]:
    mock.reset()
    mock.push(*(reply(created(), stall_after=1) for _ in range(count)))
    out = subprocess.run(
        [sys.executable, "-c", IDLE_THREADS, mock.base_url, str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.split()
    before, at_rest, now, peak = (int(v) / 1024 for v in out)
    return {
        "rss_before_mb": before,
        "rss_threads_at_rest_mb": at_rest,
        "rss_threads_waiting_mb": now,
        "peak_rss_mb": peak,
        "per_thread_at_rest_kb": (at_rest - before) * 1024 / count,
        "per_thread_waiting_kb": (now - before) * 1024 / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mock", type=Path, default=ROOT / "target/release/codeloop-mock-server")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deltas", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1000)
    args = parser.parse_args()

    mock = Mock(args.mock)
    try:
        first = first_event(mock, 10)
        mock.reset()
        turn = shell_turn(mock, args.runs)
        mock.reset()
        rate = stream_rate(mock, args.deltas)
        idle = idle_threads(mock, args.threads)
    finally:
        mock.close()

    import codeloop

    def row(label: str, value: str) -> None:
        print(f"{label:<42} {value}")

    print(
        f"codeloop {codeloop.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    row("import codeloop", ms(first["import_s"]))
    row("import to first event", ms(first["import_to_first_event_s"]))
    row("  (python process start to exit)", ms(first["process_start_to_exit_s"]))
    row(
        "one turn with one shell call, median",
        f"{ms(turn['median_s'])} (p90 {ms(turn['p90_s'])}; Codex CLI ~{CODEX_TURN_S * 1000:.0f} ms,"
        f" {CODEX_TURN_S / turn['median_s']:.0f}x)",
    )
    row(
        f"events/s, one turn of {args.deltas:,} deltas",
        f"{rate['sync_events_per_s']:,.0f} (for), {rate['async_events_per_s']:,.0f} (async for)",
    )
    row(
        f"{args.threads:,} threads at rest",
        f"RSS {idle['rss_threads_at_rest_mb']:.1f} MB (before {idle['rss_before_mb']:.1f} MB,"
        f" {idle['per_thread_at_rest_kb']:.1f} KB per thread)",
    )
    row(
        f"{args.threads:,} threads waiting mid-turn",
        f"peak RSS {idle['peak_rss_mb']:.1f} MB ({idle['per_thread_waiting_kb']:.0f} KB per thread;"
        f" one Codex CLI process ~{CODEX_RSS_MB:.0f} MB)",
    )
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "python.json").write_text(
        json.dumps(
            {"first_event": first, "shell_turn": turn, "stream": rate, "idle": idle}, indent=2
        )
    )


if __name__ == "__main__":
    main()
