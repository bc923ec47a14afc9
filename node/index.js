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
/** The final answer did not match the output schema; `errors` lists why. */
class OutputInvalidError extends CodeloopError {
  constructor(message, options = {}) {
    super(message, { ...options, code: 'output_invalid' })
    this.errors = options.errors ?? []
  }
}
/** `thread.steer()` while no turn runs on the thread. */
class NoActiveTurnError extends CodeloopError {}
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
  output_invalid: OutputInvalidError,
  no_active_turn: NoActiveTurnError,
  io: LocalIOError,
  internal: InternalError,
}

/** `{code, message, status, errors?}` from the addon as its CodeloopError. */
function errorFrom(wire, cause) {
  const Class = ERROR_CLASSES[wire.code] ?? InternalError
  return new Class(wire.message, {
    code: wire.code,
    status: wire.status ?? null,
    errors: wire.errors,
    cause,
  })
}

const NATIVE_ERROR_PREFIX = 'codeloop:'

/** A core error thrown by the addon as its class; anything else as it is. */
function nativeError(err) {
  if (err instanceof Error && err.message.startsWith(NATIVE_ERROR_PREFIX)) {
    try {
      return errorFrom(JSON.parse(err.message.slice(NATIVE_ERROR_PREFIX.length)), undefined)
    } catch {
      return err
    }
  }
  return err
}

/** Run a synchronous addon call, turning a core error into its class. */
function callNative(fn) {
  try {
    return fn()
  } catch (err) {
    throw nativeError(err)
  }
}

/** Await an addon Promise, turning a core error into its class. */
async function awaitNative(promise) {
  try {
    return await promise
  } catch (err) {
    throw nativeError(err)
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
const HOOK_OUTCOME_KEYS = [
  'decision',
  'reason',
  'updated_input',
  'additional_context',
  'stop',
  'stop_reason',
  'system_message',
]

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

function snakeKeys(object) {
  const out = {}
  for (const [key, value] of Object.entries(object)) out[snake(key)] = value
  return out
}

/** Each value of a name → object map with its keys in snake_case; the names
 * (servers, models) are kept as they are. */
function snakeValues(map) {
  const out = {}
  for (const [name, value] of Object.entries(map)) {
    out[name] = value && typeof value === 'object' && !Array.isArray(value) ? snakeKeys(value) : value
  }
  return out
}

/** A JSON Schema, or a Zod schema converted to one. */
function jsonSchemaOf(schema) {
  return isZodSchema(schema) ? zodToJsonSchema(schema) : schema
}

/**
 * camelCase AgentOptions to the core's snake_case JSON. Only option names
 * change case, one level deep, as in `shellEnvironmentPolicy`,
 * `mcpServers.NAME` and `modelPrices.MODEL`: map-like values (headers,
 * query parameters, environment variables, server and model names,
 * `configOverrides` keys) keep their keys.
 */
function coreOptions(options, hooks) {
  const { tools, canUseTool, hooks: _hooks, ...rest } = options
  const core = snakeKeys(rest)
  if (core.shell_environment_policy && typeof core.shell_environment_policy === 'object') {
    core.shell_environment_policy = snakeKeys(core.shell_environment_policy)
  }
  for (const key of ['mcp_servers', 'model_prices']) {
    if (core[key] && typeof core[key] === 'object') core[key] = snakeValues(core[key])
  }
  if (core.output_schema !== undefined) core.output_schema = jsonSchemaOf(core.output_schema)
  if (Object.keys(hooks).length) core.hooks = hooks
  if (tools && tools.length) {
    core.host_tools = [
      ...(core.host_tools ?? []),
      ...tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })),
    ]
  }
  return core
}

/**
 * The `hooks` option as core's hooks config, and its callbacks by id. An
 * event takes a function, a list of functions, or matcher groups
 * `{matcher, hooks: [fn | {type: 'command', command, timeout}]}` (a list may
 * mix them; a bare function matches everything). Each function becomes a
 * `{type: 'callback', id}` handler: core runs the chain in order and asks
 * for each callback by its id.
 */
function hookConfig(hooks) {
  const config = {}
  const callbacks = new Map()
  const handler = (value, id) => {
    if (typeof value === 'function') {
      callbacks.set(id, value)
      return { type: 'callback', id }
    }
    if (value && typeof value === 'object' && !Array.isArray(value)) return value
    throw new ConfigError(`hook ${id}: a handler is a function or {type: 'command', command}`, {
      code: 'config',
    })
  }
  for (const [name, entries] of Object.entries(hooks ?? {})) {
    if (!HOOK_NAMES.includes(name)) {
      throw new ConfigError(`unknown hook ${name}; hooks are ${HOOK_NAMES.join(', ')}`, {
        code: 'config',
      })
    }
    const list = Array.isArray(entries) ? entries : [entries]
    config[name] = list.map((entry, i) => {
      if (typeof entry === 'function') return { matcher: '', hooks: [handler(entry, `${name}[${i}]`)] }
      if (!entry || typeof entry !== 'object' || !Array.isArray(entry.hooks)) {
        throw new ConfigError(
          `hook ${name}[${i}]: expected a function or {matcher, hooks: [...]}`,
          { code: 'config' },
        )
      }
      return {
        ...entry,
        hooks: entry.hooks.map((h, j) => handler(h, `${name}[${i}].hooks[${j}]`)),
      }
    })
    if (!config[name].length) delete config[name]
  }
  return { config, callbacks }
}

/** Per-run options (`thread.run(input, {...})`) as core's RunOptions JSON;
 * null when there are none. */
function runOptionsJson(options) {
  const { signal, outputSchema, ...rest } = options
  const core = snakeKeys(rest)
  if (outputSchema !== undefined) core.output_schema = jsonSchemaOf(outputSchema)
  for (const key of Object.keys(core)) if (core[key] === undefined) delete core[key]
  return Object.keys(core).length ? JSON.stringify(core) : null
}

// ------------------------------------------------------------------ host requests

/** canUseTool's answer as core reads it: `true`/`false` or a decision name
 * (core checks it, naming canUseTool). `{behavior}` is unwrapped. */
function approvalAnswer(value) {
  if (value && typeof value === 'object' && 'behavior' in value) return value.behavior
  return value === undefined ? null : value
}

/** One hook callback's answer as core's HookOutcome (camelCase keys accepted). */
function hookOutcome(name, value) {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object') {
    throw new TypeError(`the ${name} hook must return nothing or an object, not ${typeof value}`)
  }
  const outcome = snakeKeys(value)
  const unknown = Object.keys(outcome).filter((k) => !HOOK_OUTCOME_KEYS.includes(k))
  if (unknown.length) {
    throw new TypeError(`the ${name} hook returned unknown key(s) ${unknown.join(', ')}`)
  }
  return outcome
}

/** Answers the host requests of one agent; the addon calls `dispatch`. */
class Dispatcher {
  constructor(tools, canUseTool, hookCallbacks) {
    this.tools = new Map(tools.map((t) => [t.name, t]))
    this.canUseTool = canUseTool
    this.hookCallbacks = hookCallbacks
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
      return approvalAnswer(await this.canUseTool(payload))
    }
    if (kind === 'hook') {
      // The callback sees the hook event as the protocol defines it.
      const { callback_id: id, ...event } = payload
      const callback = this.hookCallbacks.get(id)
      if (!callback) throw new Error(`no hook callback is registered as ${JSON.stringify(id)}`)
      return hookOutcome(event.hook_event_name, await callback(event))
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

/** The parsed output through a Zod schema's `parse` (its transforms and
 * refinements); core has already checked it against the JSON Schema. */
function parseOutput(zod, output) {
  if (!zod) return output
  try {
    return zod.parse(output)
  } catch (cause) {
    const errors = Array.isArray(cause?.issues)
      ? cause.issues.map((i) => `${(i.path ?? []).join('.') || '$'}: ${i.message}`)
      : [String(cause?.message ?? cause)]
    throw new OutputInvalidError(
      `the final answer does not match the output schema: ${errors.join('; ')}`,
      { errors, cause },
    )
  }
}

class Thread {
  #native
  #dispatcher
  #outputZod

  constructor(nativeThread, dispatcher, outputZod) {
    this.#native = nativeThread
    this.#dispatcher = dispatcher
    this.#outputZod = outputZod
  }

  /** The thread id, to resume it by later. */
  get id() {
    return this.#native.id
  }

  /** Cumulative usage as of the last finished turn. */
  get usage() {
    return JSON.parse(this.#native.usage())
  }

  #start(input, options) {
    const { signal } = options
    const json = inputJson(input)
    const runOptions = runOptionsJson(options)
    // As fetch() does: an aborted signal starts nothing.
    if (signal?.aborted) {
      throw new TurnInterruptedError('turn interrupted', { code: 'interrupted', cause: signal.reason })
    }
    // A failure left by an earlier turn is not this turn's cause.
    this.#dispatcher?.takeFailure(this.id)
    const run = callNative(() => this.#native.runStreamed(json, runOptions))
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

  /** Run one turn to its end: `{finalResponse, items, usage, threadId,
   * output}` (`output`: the parsed final answer when an output schema is
   * set, else null). `options`: `signal`, and this run's `outputSchema`,
   * `outputSchemaRetries`, `maxTurns`, `maxTokens`, `maxCostUsd`,
   * `timeoutMs` over the agent's. A failed turn rejects with its
   * CodeloopError. */
  async run(input, options = {}) {
    const { run, release } = this.#start(input, options)
    try {
      const outcome = JSON.parse(await run.outcome())
      if (outcome.error) throw this.#error(outcome.error, options.signal)
      const wire = outcome.result
      const zod = isZodSchema(options.outputSchema)
        ? options.outputSchema
        : options.outputSchema === undefined ? this.#outputZod : null
      return {
        finalResponse: wire.final_response,
        items: wire.items,
        usage: wire.usage,
        threadId: wire.thread_id,
        output: wire.output === null ? null : parseOutput(zod, wire.output),
      }
    } finally {
      release()
    }
  }

  /** Run one turn and iterate its events (the Codex `exec --json` events,
   * snake_case fields). A failed turn ends with a `turn.failed` event.
   * Leaving the loop early interrupts the turn. Takes `run()`'s options. */
  runStreamed(input, options = {}) {
    return new StreamedTurn(this.#start(input, options))
  }

  /** Add input to the running turn: the model gets it with the turn's next
   * request. Throws NoActiveTurnError when no turn runs. */
  steer(input) {
    callNative(() => this.#native.steer(inputJson(input)))
  }

  /** Compact the history now (the model summarizes it): resolves to
   * `{trigger, tokens_before, items_before, items_after}`. Rejects with
   * BusyError while a turn runs. */
  async compact() {
    return JSON.parse(await awaitNative(callNative(() => this.#native.compact())))
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
  #outputZod

  /** `options`: AgentOptions in camelCase (`sandbox`, `approvalPolicy`,
   * `baseUrl`, ...), plus `tools`, `canUseTool` and `hooks`. */
  constructor(options = {}) {
    const tools = options.tools ?? []
    const hooks = hookConfig(options.hooks)
    if (options.canUseTool !== undefined && typeof options.canUseTool !== 'function') {
      throw new ConfigError('canUseTool must be a function', { code: 'config' })
    }
    const needsHost = tools.length > 0 || options.canUseTool || hooks.callbacks.size > 0
    this.#dispatcher = needsHost ? new Dispatcher(tools, options.canUseTool, hooks.callbacks) : null
    this.#outputZod = isZodSchema(options.outputSchema) ? options.outputSchema : null
    const json = JSON.stringify(coreOptions(options, hooks.config))
    this.#native = callNative(
      () =>
        new native.NativeAgent(
          json,
          this.#dispatcher ? this.#dispatcher.dispatch : null,
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

  /** What the configuration layers reported (config files, hooks files);
   * each also arrives as an `error` event when a thread starts. */
  get configWarnings() {
    return this.#native.configWarnings
  }

  /** A new, empty thread. */
  startThread() {
    return this.#thread(this.#native.startThread())
  }

  /** Continue thread `id` from its rollout file. */
  resumeThread(id) {
    return this.#thread(callNative(() => this.#native.resumeThread(id)))
  }

  /** A new thread (own id and rollout file) starting from thread `id`'s
   * history: all of it, or through the end of turn `atTurn` (from 1). */
  forkThread(id, options = {}) {
    const { atTurn } = options
    if (atTurn !== undefined && atTurn !== null && !Number.isSafeInteger(atTurn)) {
      throw new ConfigError(`atTurn must be a turn number (from 1), not ${atTurn}`, {
        code: 'config',
      })
    }
    return this.#thread(callNative(() => this.#native.forkThread(id, atTurn ?? null)))
  }

  /** Shut the agent's MCP servers down now, even while its threads are
   * alive (otherwise they stop once the agent and its threads are collected).
   * Calls in flight fail; later runs that need the servers reject with
   * ConfigError saying the agent was closed. Closing again does nothing. */
  async close() {
    await awaitNative(callNative(() => this.#native.close()))
  }

  #thread(nativeThread) {
    return new Thread(nativeThread, this.#dispatcher, this.#outputZod)
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
  OutputInvalidError,
  NoActiveTurnError,
  PatchError,
}
