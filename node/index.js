'use strict'
// codeloop for Node: the public API over the napi addon (./native.js).
// The addon only translates; this file maps JavaScript idioms onto it:
// camelCase options, async iterators, AbortSignal, Promise-returning
// callbacks, and CodeloopError classes. Everything that waits on the model
// or a command is a Promise settled from the core's runtime.

const native = require('./native.js')

// ------------------------------------------------------------------ errors

/** The base of every error codeloop throws; `code` is the core's ErrorCode. */
class CodeloopError extends Error {
  constructor(message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = options.code ?? 'internal'
  }
}
class APIError extends CodeloopError {
  constructor(message, options = {}) {
    super(message, options)
    this.status = options.status ?? null
  }
}
class AuthenticationError extends CodeloopError {}
class ContextWindowError extends CodeloopError {}
class QuotaExceededError extends CodeloopError {}
class StreamError extends CodeloopError {}
class ReplayError extends CodeloopError {}
class TurnInterruptedError extends CodeloopError {}
class BudgetExceededError extends CodeloopError {}
class SandboxError extends CodeloopError {}
class ConfigError extends CodeloopError {}
class HostCallbackError extends CodeloopError {}
class BusyError extends CodeloopError {}
class LocalIOError extends CodeloopError {}
class InternalError extends CodeloopError {}
class PatchError extends CodeloopError {
  constructor(message, options = {}) {
    super(message, { ...options, code: 'patch' })
    this.treeUntouched = options.treeUntouched ?? true
  }
}

const ERROR_CLASSES = {
  model_api: APIError,
  unauthorized: AuthenticationError,
  context_window_exceeded: ContextWindowError,
  quota_exceeded: QuotaExceededError,
  stream: StreamError,
  replay: ReplayError,
  interrupted: TurnInterruptedError,
  budget_exceeded: BudgetExceededError,
  sandbox: SandboxError,
  config: ConfigError,
  host: HostCallbackError,
  busy: BusyError,
  io: LocalIOError,
  internal: InternalError,
}

/** `{code, message, status}` from the addon as its CodeloopError. */
function errorFrom(wire, cause) {
  const Class = ERROR_CLASSES[wire.code] ?? InternalError
  return new Class(wire.message, { code: wire.code, status: wire.status ?? null, cause })
}

const NATIVE_ERROR_PREFIX = 'codeloop:'

/** Run a synchronous addon call, turning a core error into its class. */
function callNative(fn) {
  try {
    return fn()
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(NATIVE_ERROR_PREFIX)) {
      let wire
      try {
        wire = JSON.parse(err.message.slice(NATIVE_ERROR_PREFIX.length))
      } catch {
        throw err
      }
      throw errorFrom(wire, undefined)
    }
    throw err
  }
}

/** The error a turn that failed with `code` throws (tests use it to check the mapping). */
function errorForCode(code, message) {
  return errorFrom(JSON.parse(callNative(() => native.errorForCode(code, message))), undefined)
}

// ------------------------------------------------------------------ tools

function isZodSchema(value) {
  return value != null && typeof value === 'object' && typeof value.safeParse === 'function'
}

/** A Zod schema as JSON Schema, with whichever converter is installed. */
function zodToJsonSchema(schema) {
  try {
    const zod = require('zod')
    const convert = zod.toJSONSchema ?? zod.z?.toJSONSchema
    if (typeof convert === 'function') return convert(schema)
  } catch {
    // zod v3 has no converter of its own; try the companion package below.
  }
  try {
    return require('zod-to-json-schema').zodToJsonSchema(schema)
  } catch (cause) {
    throw new ConfigError('a Zod schema needs zod >= 4 or zod-to-json-schema installed', {
      code: 'config',
      cause,
    })
  }
}

/**
 * A tool the model can call, run in this process. `parameters`: a JSON
 * Schema object, or a Zod schema (arguments are then parsed with it).
 * `execute(args, context)` may return a value or a Promise; a string goes to
 * the model as is, anything else as JSON; a throw becomes a tool error the
 * model sees.
 */
function tool(definition) {
  if (!definition || typeof definition.name !== 'string') {
    throw new ConfigError('tool() needs a name', { code: 'config' })
  }
  if (typeof definition.execute !== 'function') {
    throw new ConfigError(`tool ${definition.name}: execute must be a function`, { code: 'config' })
  }
  const zod = isZodSchema(definition.parameters) ? definition.parameters : null
  const parameters = zod
    ? zodToJsonSchema(zod)
    : (definition.parameters ?? { type: 'object', properties: {} })
  return Object.freeze({
    name: definition.name,
    description: definition.description ?? '',
    parameters,
    execute: definition.execute,
    parse: zod ? (args) => zod.parse(args) : (args) => args,
  })
}

function toolOutput(value) {
  if (typeof value === 'string') return value
  if (value === undefined) return ''
  return JSON.stringify(value)
}

// ------------------------------------------------------------------ options

const HOOK_NAMES = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Stop']
const DECISIONS = ['approve', 'approve_for_session', 'deny', 'abort']
const HOOK_DECISIONS = ['continue', 'allow', 'deny']

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

function snakeKeys(object) {
  const out = {}
  for (const [key, value] of Object.entries(object)) out[snake(key)] = value
  return out
}

/** camelCase AgentOptions to the core's snake_case JSON. Map-like option
 * values (headers, query parameters, environment variables) keep their keys. */
function coreOptions(options) {
  const { tools, canUseTool, hooks, ...rest } = options
  const core = snakeKeys(rest)
  if (core.shell_environment_policy && typeof core.shell_environment_policy === 'object') {
    core.shell_environment_policy = snakeKeys(core.shell_environment_policy)
  }
  if (tools && tools.length) {
    core.host_tools = [
      ...(core.host_tools ?? []),
      ...tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })),
    ]
  }
  return core
}

function normalizeHooks(hooks) {
  const out = {}
  for (const [name, handlers] of Object.entries(hooks ?? {})) {
    if (!HOOK_NAMES.includes(name)) {
      throw new ConfigError(`unknown hook ${name}; hooks are ${HOOK_NAMES.join(', ')}`, {
        code: 'config',
      })
    }
    const list = Array.isArray(handlers) ? handlers : [handlers]
    if (!list.every((h) => typeof h === 'function')) {
      throw new ConfigError(`hook ${name}: handlers must be functions`, { code: 'config' })
    }
    if (list.length) out[name] = list
  }
  return out
}

// ------------------------------------------------------------------ host requests

function decision(value) {
  if (value === true) return 'approve'
  if (value === false) return 'deny'
  if (typeof value === 'string' && DECISIONS.includes(value)) return value
  if (value && typeof value === 'object' && DECISIONS.includes(value.behavior)) return value.behavior
  throw new TypeError(
    `canUseTool must return true, false or one of ${DECISIONS.join(', ')}; it returned ${JSON.stringify(value)}`,
  )
}

/** One handler's answer as a HookOutcome (camelCase keys accepted). */
function hookOutcome(name, value) {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object') {
    throw new TypeError(`the ${name} hook must return nothing or an object, not ${typeof value}`)
  }
  const outcome = snakeKeys(value)
  const known = ['decision', 'reason', 'updated_input', 'additional_context']
  const unknown = Object.keys(outcome).filter((k) => !known.includes(k))
  if (unknown.length) {
    throw new TypeError(`the ${name} hook returned unknown key(s) ${unknown.join(', ')}`)
  }
  if (outcome.decision !== undefined && !HOOK_DECISIONS.includes(outcome.decision)) {
    throw new TypeError(`the ${name} hook returned decision ${JSON.stringify(outcome.decision)}`)
  }
  return outcome
}

/** Run the handlers of one hook in order; a deny stops the rest. */
async function runHooks(name, handlers, event) {
  const total = {}
  for (const handler of handlers) {
    const outcome = hookOutcome(name, await handler(event))
    if (outcome.additional_context) {
      total.additional_context = total.additional_context
        ? `${total.additional_context}\n${outcome.additional_context}`
        : outcome.additional_context
    }
    if (outcome.updated_input != null) {
      total.updated_input = outcome.updated_input
      // The next handler sees the input as it now stands.
      event = { ...event, tool_input: outcome.updated_input }
    }
    if (outcome.decision === 'deny') {
      total.decision = 'deny'
      total.reason = outcome.reason ?? null
      break
    }
    if (outcome.decision === 'allow') {
      total.decision = 'allow'
      if (outcome.reason) total.reason = outcome.reason
    }
  }
  return total
}

/** Answers the host requests of one agent; the addon calls `dispatch`. */
class Dispatcher {
  constructor(tools, canUseTool, hooks) {
    this.tools = new Map(tools.map((t) => [t.name, t]))
    this.canUseTool = canUseTool
    this.hooks = hooks
    // What a callback threw, per thread: the turn's error carries only a
    // message, so the thrown value waits here to become its `cause`.
    this.failures = new Map()
    this.dispatch = this.dispatch.bind(this)
  }

  // The addon passes (kind, payload) — as one array or two arguments,
  // depending on how napi spreads a tuple; accept both.
  async dispatch(kindOrArgs, maybePayload) {
    const [kind, payloadJson] = Array.isArray(kindOrArgs) ? kindOrArgs : [kindOrArgs, maybePayload]
    let payload
    try {
      payload = JSON.parse(payloadJson)
      return JSON.stringify({ ok: await this.answer(kind, payload) })
    } catch (err) {
      const threadId = payload?.thread_id ?? payload?.session_id
      if (threadId !== undefined && !this.failures.has(threadId)) this.failures.set(threadId, err)
      const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      const message = kind === 'approve'
        ? `canUseTool threw ${what}`
        : kind === 'hook'
          ? `the ${payload?.hook_event_name} hook threw ${what}`
          : `the ${kind} request failed: ${what}`
      return JSON.stringify({ error: message })
    }
  }

  async answer(kind, payload) {
    if (kind === 'tool') return this.callTool(payload)
    if (kind === 'approve') {
      if (!this.canUseTool) return 'deny'
      return decision(await this.canUseTool(payload))
    }
    if (kind === 'hook') {
      const name = payload.hook_event_name
      return runHooks(name, this.hooks[name] ?? [], payload)
    }
    throw new Error(`unknown host request kind ${kind}`)
  }

  async callTool(call) {
    const t = this.tools.get(call.name)
    if (!t) return { type: 'error', message: `no handler is registered for tool \`${call.name}\`` }
    try {
      const context = { threadId: call.thread_id, callId: call.call_id, toolName: call.name }
      const value = await t.execute(t.parse(call.arguments), context)
      return { type: 'output', output: toolOutput(value) }
    } catch (err) {
      // The model reads this and may try again: the turn goes on.
      const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      return { type: 'error', message: what }
    }
  }

  takeFailure(threadId) {
    const failure = this.failures.get(threadId)
    this.failures.delete(threadId)
    return failure
  }
}

// ------------------------------------------------------------------ agent, threads, runs

/** Events moved across the boundary per trip. */
const BATCH = 512

function inputJson(input) {
  if (typeof input === 'string' || Array.isArray(input)) return JSON.stringify(input)
  throw new TypeError('input must be a string or an array of {type: "text" | "local_image"} inputs')
}

function resultFrom(wire) {
  return {
    finalResponse: wire.final_response,
    items: wire.items,
    usage: wire.usage,
    threadId: wire.thread_id,
  }
}

class Thread {
  #native
  #dispatcher

  constructor(nativeThread, dispatcher) {
    this.#native = nativeThread
    this.#dispatcher = dispatcher
  }

  /** The thread id, to resume it by later. */
  get id() {
    return this.#native.id
  }

  /** Cumulative usage as of the last finished turn. */
  get usage() {
    return JSON.parse(this.#native.usage())
  }

  #start(input, signal) {
    const json = inputJson(input)
    // As fetch() does: an aborted signal starts nothing.
    if (signal?.aborted) {
      throw new TurnInterruptedError('turn interrupted', { code: 'interrupted', cause: signal.reason })
    }
    // A failure left by an earlier turn is not this turn's cause.
    this.#dispatcher?.takeFailure(this.id)
    const run = callNative(() => this.#native.runStreamed(json))
    let onAbort
    if (signal) {
      onAbort = () => run.interrupt()
      if (signal.aborted) run.interrupt()
      else signal.addEventListener('abort', onAbort, { once: true })
    }
    const release = () => signal?.removeEventListener('abort', onAbort)
    return { run, release }
  }

  #error(wire, signal) {
    let cause
    if (wire.code === 'host') cause = this.#dispatcher?.takeFailure(this.id)
    if (wire.code === 'interrupted' && signal?.aborted) cause = signal.reason
    return errorFrom(wire, cause)
  }

  /** Run one turn to its end: `{finalResponse, items, usage, threadId}`.
   * A failed turn rejects with its CodeloopError. */
  async run(input, options = {}) {
    const { run, release } = this.#start(input, options.signal)
    try {
      const outcome = JSON.parse(await run.outcome())
      if (outcome.error) throw this.#error(outcome.error, options.signal)
      return resultFrom(outcome.result)
    } finally {
      release()
    }
  }

  /** Run one turn and iterate its events (the Codex `exec --json` events,
   * snake_case fields). A failed turn ends with a `turn.failed` event.
   * Leaving the loop early interrupts the turn. */
  runStreamed(input, options = {}) {
    return new StreamedTurn(this.#start(input, options.signal))
  }

  /** Interrupt the running turn, if any: it ends with `turn.failed`
   * (code `interrupted`), and `run()` rejects with TurnInterruptedError. */
  interrupt() {
    this.#native.interrupt()
  }
}

/** The events of one turn, as an async iterator. `events` is the iterator
 * itself, for code written against `@openai/codex-sdk`. */
class StreamedTurn {
  #run
  #release
  #queue = []
  #done = false

  constructor({ run, release }) {
    this.#run = run
    this.#release = release
  }

  get events() {
    return this
  }

  [Symbol.asyncIterator]() {
    return this
  }

  async next() {
    while (this.#queue.length === 0) {
      if (this.#done) return { done: true, value: undefined }
      const batch = await this.#run.next(BATCH)
      if (batch === null) {
        this.#finish()
      } else {
        this.#queue = JSON.parse(batch)
        this.#queue.reverse()
      }
    }
    return { done: false, value: this.#queue.pop() }
  }

  /** Leaving a `for await` loop early: interrupt the turn and wait until it
   * wound down, so the thread can run again at once. */
  async return() {
    if (!this.#done) {
      this.#run.interrupt()
      await this.#run.outcome()
      this.#finish()
    }
    this.#queue = []
    return { done: true, value: undefined }
  }

  /** Interrupt this turn (and only this one). */
  interrupt() {
    this.#run.interrupt()
  }

  #finish() {
    this.#done = true
    this.#release()
  }
}

class Agent {
  #native
  #dispatcher

  /** `options`: AgentOptions in camelCase (`sandbox`, `approvalPolicy`,
   * `baseUrl`, ...), plus `tools`, `canUseTool` and `hooks`. */
  constructor(options = {}) {
    const tools = options.tools ?? []
    const hooks = normalizeHooks(options.hooks)
    if (options.canUseTool !== undefined && typeof options.canUseTool !== 'function') {
      throw new ConfigError('canUseTool must be a function', { code: 'config' })
    }
    const needsHost = tools.length > 0 || options.canUseTool || Object.keys(hooks).length > 0
    this.#dispatcher = needsHost ? new Dispatcher(tools, options.canUseTool, hooks) : null
    const json = JSON.stringify(coreOptions(options))
    this.#native = callNative(
      () =>
        new native.NativeAgent(
          json,
          this.#dispatcher ? this.#dispatcher.dispatch : null,
          Object.keys(hooks),
          Boolean(options.canUseTool),
        ),
    )
  }

  /** The resolved working directory. */
  get cwd() {
    return this.#native.cwd
  }

  /** The model name requests are sent with. */
  get model() {
    return this.#native.model
  }

  /** A new, empty thread. */
  startThread() {
    return new Thread(this.#native.startThread(), this.#dispatcher)
  }

  /** Continue thread `id` from its rollout file. */
  resumeThread(id) {
    return new Thread(callNative(() => this.#native.resumeThread(id)), this.#dispatcher)
  }
}

/** Apply a patch in the Codex format under `cwd`, atomically:
 * `{changes, summary}`, or a thrown PatchError. */
function applyPatch(patch, cwd = process.cwd()) {
  const out = JSON.parse(native.applyPatch(patch, String(cwd)))
  if (out.error) {
    throw new PatchError(out.error.message, { treeUntouched: out.error.tree_untouched })
  }
  return out
}

/** The protocol's JSON Schema (core/protocol.schema.json). */
function protocolSchema() {
  return JSON.parse(native.protocolSchema())
}

module.exports = {
  Agent,
  Thread,
  StreamedTurn,
  tool,
  applyPatch,
  protocolSchema,
  errorForCode,
  version: native.nativeVersion(),
  CodeloopError,
  APIError,
  AuthenticationError,
  ContextWindowError,
  QuotaExceededError,
  StreamError,
  ReplayError,
  TurnInterruptedError,
  BudgetExceededError,
  SandboxError,
  ConfigError,
  HostCallbackError,
  BusyError,
  LocalIOError,
  InternalError,
  PatchError,
}
