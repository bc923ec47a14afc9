#!/usr/bin/env bash
# Re-record the cassettes of the Python examples: the scripted model of
# model-scripts/<name>.json (served by the mock model server) answers a real
# run of the example, which writes cassettes/<name>.json (CODELOOP_RECORD).
# Needs the SDK installed (`make python`) and the mock server built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}

record() {
  local name=$1 script=$2
  coproc MOCK { exec "$root/target/debug/codeloop-mock-server" --script "$here/model-scripts/$name.json"; }
  read -r base_url <&"${MOCK[0]}"
  CODELOOP_RECORD=1 OPENAI_API_KEY=recording OPENAI_BASE_URL="$base_url" "$python" "$here/$script"
  kill "$MOCK_PID"
  wait "$MOCK_PID" 2>/dev/null || true
  echo "recorded examples/python/cassettes/$name.json"
}

record custom_tool custom_tool.py
record many_agents many_agents_asyncio.py
record structured_review structured_review.py
