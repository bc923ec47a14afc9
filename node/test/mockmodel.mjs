// The mock model server (tests/mock-server) from Node: start the real
// binary, script its replies, read the requests it got. Replies follow the
// OpenAI Responses SSE format (see tests/mock-server/README.md).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export class MockModel {
  static async start() {
    const bin = process.env.CODELOOP_MOCK_BIN ?? join(ROOT, 'target/debug/codeloop-mock-server')
    if (!existsSync(bin)) {
      throw new Error(`the mock model server ${bin} is missing: cargo build -p codeloop-mock-server`)
    }
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] })
    const line = await new Promise((ok, fail) => {
      const rl = createInterface({ input: child.stdout })
      rl.once('line', (l) => {
        rl.close()
        ok(l.trim())
      })
      child.once('error', fail)
      child.once('exit', (code) => fail(new Error(`the mock model server exited (${code})`)))
    })
    const mock = new MockModel(child, line)
    return mock
  }

  constructor(child, baseUrl) {
    this.child = child
    this.baseUrl = baseUrl
    this.root = baseUrl.slice(0, -'/v1'.length)
  }

  async #call(path, body) {
    const res = await fetch(this.root + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
    return res.json()
  }

  /** Queue replies, one per model request, in order. */
  push(...replies) {
    return this.#call('/__mock/replies', replies)
  }

  requests() {
    return this.#call('/__mock/requests')
  }

  reset() {
    return this.#call('/__mock/reset', {})
  }

  close() {
    this.child.stdin.end()
    this.child.kill()
  }
}

export const USAGE = {
  input_tokens: 100,
  input_tokens_details: { cached_tokens: 40 },
  output_tokens: 10,
  output_tokens_details: { reasoning_tokens: 3 },
  total_tokens: 110,
}

export const sse = (events, options = {}) => ({
  kind: 'responses',
  events: events.map((data) => ({ data })),
  ...options,
})
export const created = (id = 'resp') => ({ type: 'response.created', response: { id } })
export const completed = (id = 'resp') => ({
  type: 'response.completed',
  response: { id, usage: USAGE },
})
export const done = (item) => ({ type: 'response.output_item.done', output_index: 0, item })
export const message = (text) =>
  done({ type: 'message', id: 'msg', role: 'assistant', content: [{ type: 'output_text', text }] })
export const textDelta = (delta) => ({
  type: 'response.output_text.delta',
  item_id: 'msg',
  output_index: 0,
  content_index: 0,
  delta,
})
export const functionCall = (callId, name, args) =>
  done({
    type: 'function_call',
    id: `fc_${callId}`,
    call_id: callId,
    name,
    arguments: JSON.stringify(args),
  })
export const customToolCall = (callId, name, input) =>
  done({ type: 'custom_tool_call', id: `ctc_${callId}`, call_id: callId, name, input })
export const shellCall = (callId, command) =>
  functionCall(callId, 'shell_command', { command, login: false })

/** A reply that answers with `text` (two deltas, then the message). */
export function textTurn(text) {
  const half = Math.floor(text.length / 2)
  return sse([
    created(),
    textDelta(text.slice(0, half)),
    textDelta(text.slice(half)),
    message(text),
    completed(),
  ])
}
export const callTurn = (...calls) => sse([created(), ...calls, completed()])

export const httpError = (status, messageText, code = '') => ({
  kind: 'http',
  status,
  body: { error: { message: messageText, type: 'invalid_request_error', code } },
})

/** `call_id -> output` of a request's tool outputs. */
export function toolOutputs(request) {
  const out = {}
  for (const item of request.body.input) {
    if (item.type === 'function_call_output' || item.type === 'custom_tool_call_output') {
      out[item.call_id] = item.output
    }
  }
  return out
}

export function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'codeloop-node-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The text of every message of a request's input, in order. */
export function messageTexts(request) {
  return request.body.input
    .filter((item) => item.type === 'message')
    .flatMap((item) => (typeof item.content === 'string' ? [item.content] : item.content.map((c) => c.text)))
}

/**
 * One mock model server per test file (reset before each test), and
 * `makeAgent(t, options)`: an agent on it, in a fresh temporary directory,
 * keeping no sessions and failing fast (no retries) unless told otherwise.
 * Its codeloop home is an empty temporary directory, so no config file,
 * AGENTS.md or skill of this machine reaches it.
 */
export async function useMock(testApi) {
  const { before, after, beforeEach } = testApi
  const ctx = { mock: null }
  before(async () => {
    ctx.mock = await MockModel.start()
  })
  after(() => ctx.mock?.close())
  beforeEach(() => ctx.mock.reset())
  ctx.makeAgent = async (t, options = {}, Agent) => {
    const workdir = options.cwd ?? tempDir(t)
    const agent = new Agent({
      model: 'mock-model',
      baseUrl: ctx.mock.baseUrl,
      apiKey: 'test-key',
      cwd: workdir,
      ephemeral: true,
      requestMaxRetries: 0,
      streamMaxRetries: 0,
      codeloopHome: tempDir(t),
      ...options,
    })
    return { agent, workdir }
  }
  return ctx
}
