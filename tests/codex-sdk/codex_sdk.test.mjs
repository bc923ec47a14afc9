// The real @openai/codex-sdk drives the codeloop binary (codexPathOverride)
// against the mock model server: codeloop must be a drop-in for `codex exec`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Codex } from "@openai/codex-sdk";

const root = resolve(import.meta.dirname, "../..");
const bin = process.env.CODELOOP_BIN ?? join(root, "target/debug/codeloop");
const mockBin = process.env.CODELOOP_MOCK_BIN ?? join(root, "target/debug/codeloop-mock-server");

let mock;
let baseUrl;

before(async () => {
  mock = spawn(mockBin, [], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: mock.stdout });
  baseUrl = await new Promise((ok, fail) => {
    lines.once("line", ok);
    mock.once("exit", (code) => fail(new Error(`mock server exited with ${code}`)));
  });
});

after(() => {
  mock.stdin.end();
  mock.kill();
});

async function control(path, body) {
  const res = await fetch(baseUrl.replace(/\/v1$/, "") + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

const sse = (events) => ({ kind: "responses", events: events.map((data) => ({ data })) });
const created = { type: "response.created", response: { id: "resp" } };
const completed = (id) => ({
  type: "response.completed",
  response: {
    id,
    usage: {
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 1 },
      total_tokens: 15,
    },
  },
});
const done = (item) => ({ type: "response.output_item.done", item });
const message = (text) =>
  done({ type: "message", role: "assistant", id: "msg", content: [{ type: "output_text", text }] });
const shellCall = (callId, command) =>
  done({ type: "function_call", id: "fc", call_id: callId, name: "shell_command", arguments: JSON.stringify({ command }) });

function workspace() {
  const home = mkdtempSync(join(tmpdir(), "codeloop-sdk-home-"));
  const repo = mkdtempSync(join(tmpdir(), "codeloop-sdk-repo-"));
  mkdirSync(join(repo, ".git"));
  const codex = new Codex({
    codexPathOverride: bin,
    baseUrl,
    apiKey: "sdk-key",
    env: { PATH: process.env.PATH, HOME: home, CODELOOP_HOME: home },
  });
  return { codex, repo };
}

test("run, then a second run resumes the same thread", async () => {
  await control("/__mock/reset", {});
  await control("/__mock/replies", [
    sse([created, shellCall("call_1", "echo hello-from-sdk"), completed("r1")]),
    sse([created, message("ran it"), completed("r2")]),
    sse([created, message("second answer"), completed("r3")]),
  ]);
  const { codex, repo } = workspace();
  const thread = codex.startThread({
    model: "mock-model",
    workingDirectory: repo,
    sandboxMode: "danger-full-access",
    approvalPolicy: "never",
    modelReasoningEffort: "low",
    networkAccessEnabled: false,
  });
  const turn = await thread.run("run the command");
  assert.equal(turn.finalResponse, "ran it");
  assert.ok(thread.id, "thread id from thread.started");
  const cmd = turn.items.find((i) => i.type === "command_execution");
  assert.equal(cmd.exit_code, 0);
  assert.equal(cmd.status, "completed");
  assert.match(cmd.aggregated_output, /hello-from-sdk/);
  assert.deepEqual(turn.usage, {
    input_tokens: 20,
    cached_input_tokens: 8,
    output_tokens: 10,
    reasoning_output_tokens: 2,
    // Filled in by the SDK itself when the binary does not report it.
    cache_write_input_tokens: 0,
  });

  const second = await thread.run("and again");
  assert.equal(second.finalResponse, "second answer");
  const requests = await control("/__mock/requests");
  assert.equal(requests.length, 3);
  assert.equal(requests[0].headers.authorization, "Bearer sdk-key");
  assert.equal(requests[0].body.model, "mock-model");
  assert.equal(requests[0].body.reasoning.effort, "low");
  const texts = requests[2].body.input.flatMap((i) => (i.content ?? []).map((c) => c.text));
  assert.deepEqual(texts.slice(-3), ["run the command", "ran it", "and again"]);
});

test("runStreamed yields Codex events and outputSchema reaches the model", async () => {
  await control("/__mock/reset", {});
  await control("/__mock/replies", [sse([created, message('{"answer":42}'), completed("r1")])]);
  const { codex, repo } = workspace();
  const thread = codex.startThread({ workingDirectory: repo, sandboxMode: "danger-full-access" });
  const schema = {
    type: "object",
    properties: { answer: { type: "number" } },
    required: ["answer"],
    additionalProperties: false,
  };
  const { events } = await thread.runStreamed("answer", { outputSchema: schema });
  const types = [];
  for await (const event of events) types.push(event.type);
  assert.deepEqual(types, ["thread.started", "turn.started", "item.completed", "turn.completed"]);
  const [request] = await control("/__mock/requests");
  assert.equal(request.body.text.format.type, "json_schema");
  assert.deepEqual(request.body.text.format.schema, schema);
});

test("a failed turn rejects with the error message", async () => {
  await control("/__mock/reset", {});
  await control("/__mock/replies", [
    { kind: "http", status: 400, body: { error: { message: "model not found: nope", type: "invalid_request_error" } } },
  ]);
  const { codex, repo } = workspace();
  const thread = codex.startThread({ workingDirectory: repo, model: "nope" });
  await assert.rejects(thread.run("hi"), /model not found: nope/);
});
