"""The shared apply_patch conformance scenarios (shared/conformance), run
through the agent — the mock model sends each patch as an ``apply_patch``
custom tool call — and through ``codeloop.apply_patch``.

codeloop applies a patch atomically, so for ``015_…`` the expected tree is
the input (see shared/conformance/README.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Union

import pytest
from conftest import AgentFactory
from mockmodel import ROOT, MockModel, call_turn, custom_tool_call, text_turn, tool_outputs

import codeloop


def conformance_dir() -> Path:
    """``shared/`` beside the repository, or ``$CODELOOP_SHARED_DIR``. A
    missing suite is a failure, never a skip."""
    beside = ROOT.parent / "shared" / "conformance" / "apply_patch"
    if beside.is_dir():
        return beside
    shared = os.environ.get("CODELOOP_SHARED_DIR")
    if shared and (Path(shared) / "conformance" / "apply_patch").is_dir():
        return Path(shared) / "conformance" / "apply_patch"
    raise RuntimeError(
        f"the apply_patch conformance suite was not found at {beside}; clone shared/ beside "
        "the repository or set CODELOOP_SHARED_DIR"
    )


SUITE = conformance_dir()
SCENARIOS = sorted(p.name for p in SUITE.iterdir() if (p / "patch.txt").is_file())


def expects_error(name: str) -> bool:
    return any(word in name for word in ("rejects", "fails", "failure", "requires_existing"))


Tree = Dict[str, Union[bytes, str]]


def tree(root: Path) -> Tree:
    out: Tree = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = "<dir>" if path.is_dir() else path.read_bytes()
    return out


def copy_tree(source: Path, dest: Path) -> None:
    # Not shutil.copytree: the suite's files are read-only and copies must not be.
    for rel, node in tree(source).items():
        target = dest / rel
        if node == "<dir>":
            target.mkdir(parents=True, exist_ok=True)
        else:
            assert isinstance(node, bytes)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(node)


def expected_tree(name: str) -> Tree:
    return tree(SUITE / name / ("input" if name.startswith("015_") else "expected"))


def test_the_whole_suite_is_there() -> None:
    assert len(SCENARIOS) >= 20, SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_through_the_agent(
    name: str, mock: MockModel, make_agent: AgentFactory, workdir: Path
) -> None:
    copy_tree(SUITE / name / "input", workdir)
    patch = (SUITE / name / "patch.txt").read_text()
    mock.push(call_turn(custom_tool_call("p1", "apply_patch", patch)), text_turn("patched"))
    result = make_agent(sandbox="workspace-write").start_thread().run("apply the patch")

    assert result.final_response == "patched"
    assert tree(workdir) == expected_tree(name)
    output = tool_outputs(mock.requests()[1])["p1"]
    changes: List[codeloop.ThreadItem] = [i for i in result.items if i["type"] == "file_change"]
    if expects_error(name):
        assert not output.startswith("Success."), output
        assert all(i["status"] == "failed" for i in changes), changes
    else:
        assert output.startswith("Success. Updated the following files:"), output
        assert [i["status"] for i in changes] == ["completed"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_through_apply_patch(name: str, workdir: Path) -> None:
    copy_tree(SUITE / name / "input", workdir)
    patch = (SUITE / name / "patch.txt").read_text()
    if expects_error(name):
        with pytest.raises(codeloop.PatchError):
            codeloop.apply_patch(patch, workdir)
    else:
        applied = codeloop.apply_patch(patch, workdir)
        assert applied["summary"].startswith("Success.")
        assert applied["changes"]
    assert tree(workdir) == expected_tree(name)
