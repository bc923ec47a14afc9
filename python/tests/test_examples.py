"""The Python examples run offline (replayed cassettes) and keep working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

from mockmodel import ROOT

EXAMPLES = ROOT / "examples" / "python"


def run_example(name: str, *args: str, cwd: Path) -> List[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODELOOP_"))}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_quick_start_fixes_the_sample_repo(tmp_path: Path) -> None:
    lines = run_example("quick_start.py", cwd=tmp_path)
    assert any(line.startswith("patched: stats.py") for line in lines), lines
    assert lines[-1] == "the tests now: OK"


def test_custom_tool(tmp_path: Path) -> None:
    lines = run_example("custom_tool.py", cwd=tmp_path)
    assert "called lookup_ticket({'ticket_id': 'CL-7'}) -> completed" in lines
    assert lines[-1].startswith("answer: CL-7 asks to fix median()")


def test_many_agents_asyncio(tmp_path: Path) -> None:
    lines = run_example("many_agents_asyncio.py", "5", cwd=tmp_path)
    reports = [line for line in lines if line.startswith("agent ")]
    assert len(reports) == 5
    assert all("ran 1 command(s): The suite fails" in line for line in reports)
    assert lines[-1].startswith("5 agents, ")


def test_structured_review(tmp_path: Path) -> None:
    lines = run_example("structured_review.py", cwd=tmp_path)
    assert lines[0] == "hook: about to run 'python3 -m unittest'"
    assert "verdict: fail" in lines
    assert lines[-1].startswith("failing: test_stats.StatsTest.test_median_even: ")
