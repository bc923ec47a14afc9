"""Structured output and hooks: the agent runs the sample repo's tests and
answers with a `Review` dataclass (a pydantic model works the same way),
while a PreToolUse hook sees every command first and refuses destructive ones.

Offline by default (replays examples/python/cassettes/structured_review.json);
with OPENAI_API_KEY set, the real model is asked.

    python examples/python/structured_review.py
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional

import codeloop

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASSETTE = HERE / "cassettes" / "structured_review.json"


@dataclasses.dataclass
class Failure:
    test: str
    reason: str


@dataclasses.dataclass
class Review:
    verdict: Literal["pass", "fail"]
    failures: List[Failure]


def model_options() -> Dict[str, Any]:
    if os.environ.get("CODELOOP_RECORD"):
        # examples/python/record.sh: a scripted mock model answers.
        return {"model": "gpt-5.4", "record": CASSETTE}
    if os.environ.get("OPENAI_API_KEY"):
        return {"model": "gpt-5.4"}
    return {"model": "gpt-5.4", "provider": "replay", "cassette": CASSETTE}


def check_command(event: codeloop.HookEvent) -> Optional[codeloop.HookOutcome]:
    """Runs before every shell command (matcher "Bash")."""
    assert event["hook_event_name"] == "PreToolUse"
    command = event["tool_input"].get("command", "")
    print(f"hook: about to run {command!r}")
    if "rm " in command:
        return {"decision": "deny", "reason": "this review only reads"}
    return None


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="codeloop-review-"))
    shutil.copytree(ROOT / "examples/sample-repo", work, dirs_exist_ok=True)
    agent = codeloop.Agent(
        **model_options(),
        cwd=work,
        sandbox="danger-full-access",
        ephemeral=True,
        hooks={"PreToolUse": [codeloop.HookMatcher(matcher="Bash", hooks=[check_command])]},
    )
    result = agent.start_thread().run(
        "Run the tests (python3 -m unittest) and report which ones fail and why.",
        output_type=Review,
    )
    review: Review = result.output
    print(f"verdict: {review.verdict}")
    for failure in review.failures:
        print(f"failing: {failure.test}: {failure.reason}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
