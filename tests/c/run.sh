#!/usr/bin/env bash
# Build tests/c/smoke.c against the committed header and the static library,
# start the mock model server, script its replies, run the program.
# Needs target/debug/libcodeloop_ffi.a and codeloop-mock-server (make ffi).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="$(mktemp -d)"
mock_pid=
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$out"' EXIT

cc -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I bindings/ffi/include -o "$out/smoke" tests/c/smoke.c \
  target/debug/libcodeloop_ffi.a -lpthread -ldl -lm

# The mock serves until its stdin closes; the coprocess's pipes hold it open,
# and reading its first line waits for it to listen.
coproc MOCK { exec target/debug/codeloop-mock-server; }
mock_pid=$MOCK_PID
read -r base_url <&"${MOCK[0]}"
root_url="${base_url%/v1}"

usage='{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":12}'
curl -sf -X POST -H 'content-type: application/json' "$root_url/__mock/replies" -d '[
 {"kind":"responses","events":[
  {"data":{"type":"response.created","response":{"id":"r1"}}},
  {"data":{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"ticket","arguments":"{\"id\":7}"}}},
  {"data":{"type":"response.completed","response":{"id":"r1","usage":'"$usage"'}}}]},
 {"kind":"responses","events":[
  {"data":{"type":"response.created","response":{"id":"r2"}}},
  {"data":{"type":"response.output_item.done","output_index":0,"item":{"type":"message","id":"m","role":"assistant","content":[{"type":"output_text","text":"ticket 7 is open, done"}]}}},
  {"data":{"type":"response.completed","response":{"id":"r2","usage":'"$usage"'}}}]},
 {"kind":"responses","events":[
  {"data":{"type":"response.created","response":{"id":"r3"}}},
  {"data":{"type":"response.output_item.done","output_index":0,"item":{"type":"message","id":"m3","role":"assistant","content":[{"type":"output_text","text":"{\"ok\":true}"}]}}},
  {"data":{"type":"response.completed","response":{"id":"r3","usage":'"$usage"'}}}]},
 {"kind":"responses","events":[
  {"data":{"type":"response.created","response":{"id":"r4"}}},
  {"data":{"type":"response.output_item.done","output_index":0,"item":{"type":"message","id":"m4","role":"assistant","content":[{"type":"output_text","text":"summary: ticket 7 is open"}]}}},
  {"data":{"type":"response.completed","response":{"id":"r4","usage":'"$usage"'}}}]}
]' >/dev/null

mkdir "$out/work"
"$out/smoke" "$base_url" "$out/work"
requests="$(curl -sf "$root_url/__mock/requests")"
# The tool's output went back to the model in the second request.
grep -q 'ticket 7 is open' <<<"$requests" || {
  echo "the tool output did not reach the model" >&2
  exit 1
}
# The third request carried the run's output schema.
grep -q '"json_schema"' <<<"$requests" || {
  echo "the run options' output schema did not reach the model" >&2
  exit 1
}
