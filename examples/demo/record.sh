#!/usr/bin/env bash
# Re-record examples/demo/cassette.json: the scripted model in model-script.json
# (served by the mock model server) drives a real run on a scratch copy of the
# sample repo, and `--record` writes every model exchange to the cassette.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/codeloop-record.XXXXXX")
cp -R "$root/examples/sample-repo/." "$work/"
git -C "$work" init -q

coproc MOCK { exec "$root/target/debug/codeloop-mock-server" --script "$root/examples/demo/model-script.json"; }
read -r base_url <&"${MOCK[0]}"
trap 'kill "$MOCK_PID" 2>/dev/null || true' EXIT

prompt="The tests fail (python3 -m unittest). Find the bug, fix it, and run the tests again."
OPENAI_API_KEY=recording OPENAI_BASE_URL="$base_url" \
  "$root/target/debug/codeloop" exec --sandbox danger-full-access --ephemeral \
  --model gpt-5.4 --cd "$work" --record "$root/examples/demo/cassette.json.tmp" "$prompt"
mv "$root/examples/demo/cassette.json.tmp" "$root/examples/demo/cassette.json"
echo "recorded examples/demo/cassette.json"
