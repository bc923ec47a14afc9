#!/usr/bin/env bash
# Re-record the cassettes of the Node examples that have their own: the
# scripted model of model-scripts/<name>.json (served by the mock model
# server) answers a real run of the example, which writes cassettes/<name>.json.
# Needs the addon built (`make node`) and the mock server built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

record() {
  local name=$1 script=$2
  coproc MOCK { exec "$root/target/debug/codeloop-mock-server" --script "$here/model-scripts/$name.json"; }
  read -r base_url <&"${MOCK[0]}"
  CODELOOP_RECORD=1 OPENAI_API_KEY=recording OPENAI_BASE_URL="$base_url" node "$here/$script"
  kill "$MOCK_PID"
  wait "$MOCK_PID" 2>/dev/null || true
  echo "recorded examples/node/cassettes/$name.json"
}

record structured_review structured_review.mjs
