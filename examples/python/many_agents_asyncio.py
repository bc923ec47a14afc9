"""Many agents at once on one asyncio loop, in one process.

Each agent gets its own scratch copy of examples/sample-repo, runs its test
suite and reports. An agent is a cheap object: no process per agent, the
turns share codeloop's one runtime, and the event loop stays free while they
run. Offline by default (replays examples/python/cassettes/many_agents.json);
with OPENAI_API_KEY set, the real model is asked.

    python examples/python/many_agents_asyncio.py [N]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

import codeloop

ROOT = Path(__file__).resolve().parents[2]
CASSETTE = Path(__file__).resolve().parent / "cassettes" / "many_agents.json"
PROMPT = "Run the test suite with `python3 -m unittest` and tell me in one line how it went."


def model_options() -> Dict[str, Any]:
    if os.environ.get("CODELOOP_RECORD"):
        # examples/python/record.sh: a scripted mock model answers and the cassette is written.
        return {"model": "gpt-5.4", "record": CASSETTE}
    if os.environ.get("OPENAI_API_KEY"):
        return {"model": "gpt-5.4"}
    # Every agent replays the same recorded conversation on its own copy.
    return {"model": "gpt-5.4", "provider": "replay", "cassette": CASSETTE}


async def check(n: int, scratch: Path) -> str:
    work = scratch / f"checkout-{n}"
    shutil.copytree(ROOT / "examples/sample-repo", work)
    agent = codeloop.Agent(
        **model_options(), cwd=work, sandbox="danger-full-access", ephemeral=True
    )
    result = await agent.start_thread().run_async(PROMPT)
    commands = [i for i in result.items if i["type"] == "command_execution"]
    return f"agent {n:2}: ran {len(commands)} command(s): {result.final_response}"


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="codeloop-many-") as scratch:
        start = time.perf_counter()
        reports = await asyncio.gather(*(check(n, Path(scratch)) for n in range(count)))
        elapsed = time.perf_counter() - start
    print("\n".join(reports))
    print(f"{count} agents, {elapsed:.2f} s in all")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if os.environ.get("CODELOOP_RECORD"):
        count = 1  # one recording; every replaying agent follows it
    asyncio.run(main(count))
