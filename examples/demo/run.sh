#!/usr/bin/env bash
# `make demo`: an agent fixes the failing test of examples/sample-repo, in a
# scratch copy. Replays the committed cassette unless a real model is chosen:
#   OPENAI_API_KEY=... make demo          # OpenAI Responses API
#   PROVIDER=ollama MODEL=qwen3 make demo # a local model over Chat Completions
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/codeloop-demo.XXXXXX")
cp -R "$root/examples/sample-repo/." "$work/"
git -C "$work" init -q
git -C "$work" add -A
git -C "$work" -c user.email=demo@example.com -c user.name=demo commit -qm "sample repo"

prompt="The tests fail (python3 -m unittest). Find the bug, fix it, and run the tests again."
args=()
if [ -n "${PROVIDER:-}" ]; then
  args=(--provider "$PROVIDER")
elif [ -z "${OPENAI_API_KEY:-}" ]; then
  args=(--cassette "$root/examples/demo/cassette.json")
fi
if [ -n "${MODEL:-}" ]; then args+=(--model "$MODEL"); fi

# Commands run confined: they may write the scratch copy and the temp dirs,
# not its .git nor anything else (Landlock + seccomp).
"$root/target/debug/codeloop" exec --sandbox workspace-write --ephemeral \
  --cd "$work" "${args[@]}" "$prompt"

echo
echo "== the tests in $work after the run:"
cd "$work" && python3 -m unittest 2>&1 | tail -n 3
