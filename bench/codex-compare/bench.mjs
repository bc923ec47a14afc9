// One turn with one shell call, driven by the real @openai/codex-sdk against
// the mock model server, once with the Codex CLI as the binary and once with
// `codeloop` (its codexPathOverride). Reports the median wall time per turn
// and the median peak RSS of the spawned process. Not part of `make test`:
// the Codex CLI package is ~400 MB. Run: `make bench-codex-compare`.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Codex } from "@openai/codex-sdk";

const root = resolve(import.meta.dirname, "../..");
const runs = Number(process.env.BENCH_RUNS ?? 20);
const binaries = {
  codex: resolve(import.meta.dirname, "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"),
  codeloop: process.env.CODELOOP_BIN ?? join(root, "target/release/codeloop"),
};
const mockBin = process.env.CODELOOP_MOCK_BIN ?? join(root, "target/release/codeloop-mock-server");

const mock = spawn(mockBin, [], { stdio: ["pipe", "pipe", "inherit"] });
const baseUrl = await new Promise((ok) => createInterface({ input: mock.stdout }).once("line", ok));
const control = async (path, body) => {
  const res = await fetch(baseUrl.replace(/\/v1$/, "") + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(await res.text());
};
const event = (data) => ({ data });
const completed = (id) =>
  event({ type: "response.completed", response: { id, usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 } } });
const turn = () => [
  { kind: "responses", events: [event({ type: "response.created", response: { id: "r1" } }),
    event({ type: "response.output_item.done", item: { type: "function_call", id: "fc", call_id: "call_1", name: "shell_command", arguments: JSON.stringify({ command: "true", login: false }) } }),
    completed("r1")] },
  { kind: "responses", events: [event({ type: "response.created", response: { id: "r2" } }),
    event({ type: "response.output_item.done", item: { type: "message", role: "assistant", id: "m", content: [{ type: "output_text", text: "done" }] } }),
    completed("r2")] },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const [name, bin] of Object.entries(binaries)) {
  const home = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const repo = join(home, "repo");
  mkdirSync(join(repo, ".git"), { recursive: true });
  // A wrapper records the peak RSS of each spawned process.
  const rssFile = join(home, "rss");
  const wrapper = join(home, "wrapper.sh");
  writeFileSync(wrapper, `#!/bin/bash\nexec /usr/bin/time -a -o ${rssFile} -f %M ${bin} "$@"\n`);
  chmodSync(wrapper, 0o755);
  // A custom provider: the built-in `openai` one makes Codex try a Responses
  // WebSocket first (the mock speaks SSE only), which costs seconds of backoff.
  const codex = new Codex({
    codexPathOverride: wrapper,
    apiKey: "bench",
    config: {
      model_provider: "mock",
      model_providers: { mock: { name: "mock", base_url: baseUrl, wire_api: "responses", env_key: "CODEX_API_KEY" } },
    },
    env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: join(home, ".codex"), CODELOOP_HOME: join(home, ".codeloop") },
  });
  mkdirSync(join(home, ".codex"), { recursive: true });
  const times = [];
  for (let i = 0; i < runs + 2; i++) {
    await control("/__mock/reset", {});
    await control("/__mock/replies", turn());
    const thread = codex.startThread({ workingDirectory: repo, sandboxMode: "danger-full-access", model: "gpt-5.4", skipGitRepoCheck: true });
    const start = performance.now();
    const result = await thread.run("run true");
    const ms = performance.now() - start;
    if (result.finalResponse !== "done") throw new Error(`${name}: unexpected answer ${result.finalResponse}`);
    if (i >= 2) times.push(ms);
  }
  const rss = readFileSync(rssFile, "utf8").trim().split("\n").map(Number).slice(2);
  console.log(`${name.padEnd(9)} turn median ${median(times).toFixed(1)} ms   peak RSS median ${(median(rss) / 1024).toFixed(1)} MB   (n=${times.length})`);
  rmSync(home, { recursive: true, force: true });
}
mock.stdin.end();
mock.kill();
