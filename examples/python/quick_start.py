"""Quick start: an agent fixes the failing test of examples/sample-repo.

Offline by default: the model's answers are replayed from the recorded
cassette examples/demo/cassette.json, while the commands and the patch run
for real in a scratch copy of the sample repo. With OPENAI_API_KEY set, the
same code asks the real model.

    python examples/python/quick_start.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import codeloop

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "The tests fail (python3 -m unittest). Find the bug, fix it, and run the tests again."


def make_agent(work: Path) -> codeloop.Agent:
    if os.environ.get("OPENAI_API_KEY"):
        return codeloop.Agent(model="gpt-5.4", cwd=work, sandbox="workspace-write")
    return codeloop.Agent(
        model="gpt-5.4",
        provider="replay",
        cassette=ROOT / "examples/demo/cassette.json",
        cwd=work,
        # Commands run unconfined in this scratch copy (kernel sandboxing is
        # not built yet, and the confined modes fail closed).
        sandbox="danger-full-access",
        ephemeral=True,
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="codeloop-quick-start-"))
    shutil.copytree(ROOT / "examples/sample-repo", work, dirs_exist_ok=True)
    print(f"working in {work}")

    thread = make_agent(work).start_thread()
    for event in thread.run_streamed(PROMPT):
        if event["type"] == "item.completed":
            item = event["item"]
            if item["type"] == "command_execution":
                print(f"$ {item['command']}  (exit {item['exit_code']})")
            elif item["type"] == "file_change":
                print("patched:", ", ".join(Path(c["path"]).name for c in item["changes"]))
            elif item["type"] == "agent_message":
                print("\n" + item["text"])
        elif event["type"] == "turn.completed":
            usage = event["usage"]
            print(f"\ntokens: {usage['input_tokens']} in, {usage['output_tokens']} out")
        elif event["type"] == "turn.failed":
            sys.exit(f"the turn failed: {event['error']['message']}")

    tests = subprocess.run(
        [sys.executable, "-m", "unittest"], cwd=work, capture_output=True, text=True
    )
    print("the tests now:", tests.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
