// The public TypeScript API of codeloop for Node. Event, item and host
// request shapes mirror the protocol's JSON Schema (core/protocol.schema.json)
// and keep its snake_case field names, as @openai/codex-sdk does; options
// are camelCase.

// ------------------------------------------------------------------ protocol values

export type SandboxMode = 'read-only' | 'workspace-write' | 'danger-full-access'
export type ApprovalPolicy = 'never' | 'on-request' | 'untrusted'
export type WireApi = 'responses' | 'chat'
export type ShellToolKind = 'shell' | 'shell_command' | 'exec_command'
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh'
export type ReasoningSummaryMode = 'auto' | 'concise' | 'detailed' | 'none'
export type ErrorCode =
  | 'model_api'
  | 'unauthorized'
  | 'context_window_exceeded'
  | 'quota_exceeded'
  | 'stream'
  | 'replay'
  | 'interrupted'
  | 'budget_exceeded'
  | 'sandbox'
  | 'config'
  | 'host'
  | 'busy'
  | 'output_invalid'
  | 'no_active_turn'
  | 'io'
  | 'internal'

export interface Usage {
  input_tokens: number
  cached_input_tokens: number
  output_tokens: number
  reasoning_output_tokens: number
}

export interface ThreadError {
  message: string
  code?: ErrorCode
}

export type CommandStatus = 'in_progress' | 'completed' | 'failed' | 'declined'
export type PatchStatus = 'in_progress' | 'completed' | 'failed' | 'declined'
export type ToolCallStatus = 'in_progress' | 'completed' | 'failed' | 'declined'
export type PatchChangeKind = 'add' | 'delete' | 'update'

export interface FileUpdateChange {
  path: string
  kind: PatchChangeKind
}
export interface TodoItem {
  text: string
  completed: boolean
}
export interface ItemError {
  message: string
}

export interface AgentMessageItem { id: string; type: 'agent_message'; text: string }
export interface ReasoningItem { id: string; type: 'reasoning'; text: string }
export interface CommandExecutionItem {
  id: string
  type: 'command_execution'
  command: string
  aggregated_output: string
  exit_code: number | null
  status: CommandStatus
}
export interface FileChangeItem {
  id: string
  type: 'file_change'
  changes: FileUpdateChange[]
  status: PatchStatus
}
/** A call of a tool of an MCP server (`mcpServers`); the model names it
 * `mcp__<server>__<tool>`. */
export interface McpToolCallItem {
  id: string
  type: 'mcp_tool_call'
  server: string
  tool: string
  arguments: unknown
  /** The MCP result: content blocks (`{type: 'text', text}`, ...) and the
   * structured content, when the server gave one. */
  result?: McpToolCallResult | null
  error?: ItemError | null
  status: ToolCallStatus
}
export interface McpToolCallResult {
  content: Array<{ type: string; text?: string; [key: string]: unknown }>
  structured_content?: unknown
}
export interface WebSearchItem { id: string; type: 'web_search'; query: string; action?: unknown }
export interface TodoListItem { id: string; type: 'todo_list'; items: TodoItem[] }
export interface ErrorItem { id: string; type: 'error'; message: string }
/** A call of a host tool (one defined with `tool()`). */
export interface ToolCallItem {
  id: string
  type: 'tool_call'
  tool: string
  arguments: unknown
  output?: string
  error?: ItemError
  status: ToolCallStatus
}
export type ThreadItem =
  | AgentMessageItem
  | ReasoningItem
  | CommandExecutionItem
  | FileChangeItem
  | McpToolCallItem
  | WebSearchItem
  | TodoListItem
  | ErrorItem
  | ToolCallItem

export type DeltaKind = 'agent_message' | 'reasoning' | 'command_output'

/** What a compaction did (`thread.compact()`, the `thread.compacted` event). */
export interface Compaction {
  /** `auto`: the context reached `autoCompactTokenLimit`; `manual`: `thread.compact()`. */
  trigger: 'auto' | 'manual'
  /** The context size before, in tokens (0 when no request was made yet). */
  tokens_before: number
  items_before: number
  items_after: number
}

export type ThreadEvent =
  | { type: 'thread.started'; thread_id: string }
  | { type: 'turn.started' }
  | { type: 'turn.completed'; usage: Usage; /** The parsed answer, with an output schema only. */ output?: unknown }
  | { type: 'turn.failed'; error: ThreadError }
  | { type: 'item.started'; item: ThreadItem }
  | { type: 'item.updated'; item: ThreadItem }
  | { type: 'item.completed'; item: ThreadItem }
  | { type: 'item.delta'; item_id: string; item_type: DeltaKind; delta: string }
  | { type: 'error'; message: string }
  | ({ type: 'thread.compacted' } & Compaction)

// ------------------------------------------------------------------ host requests

interface ApprovalBase {
  thread_id: string
  call_id: string
  cwd: string
  reason?: string | null
}
export type ApprovalRequest =
  | (ApprovalBase & { kind: 'command'; command: string[] })
  | (ApprovalBase & { kind: 'file_change'; changes: FileUpdateChange[]; patch: string })
  | (ApprovalBase & { kind: 'tool'; tool: string; arguments: unknown })
export type ApprovalDecision = 'approve' | 'approve_for_session' | 'deny' | 'abort'

export type HookName = 'SessionStart' | 'UserPromptSubmit' | 'PreToolUse' | 'PostToolUse' | 'Stop'
interface HookBase { session_id: string; cwd: string }
export type HookEvent =
  | (HookBase & { hook_event_name: 'SessionStart'; source: string })
  | (HookBase & { hook_event_name: 'UserPromptSubmit'; prompt: string })
  | (HookBase & { hook_event_name: 'PreToolUse'; tool_name: string; tool_input: unknown })
  | (HookBase & {
      hook_event_name: 'PostToolUse'
      tool_name: string
      tool_input: unknown
      tool_response: unknown
    })
  | (HookBase & {
      hook_event_name: 'Stop'
      last_assistant_message: string | null
      stop_hook_active: boolean
    })

/** A hook's answer; nothing (or `{}`) lets things go on unchanged. Core
 * chains the handlers of an event in order: a deny (or `stop`) ends the
 * chain, and `updatedInput` is what the next handler sees. */
export interface HookOutcome {
  /** `ask`: PreToolUse asks `canUseTool` before the tool runs. */
  decision?: 'continue' | 'allow' | 'deny' | 'ask'
  /** Shown to the model when the hook denies. */
  reason?: string | null
  /** PreToolUse: replaces the tool's input. */
  updatedInput?: unknown
  updated_input?: unknown
  /** Added to the conversation as context for the model. */
  additionalContext?: string
  additional_context?: string
  /** End the turn after this hook (Claude Code's `continue: false`). */
  stop?: boolean
  /** Why the turn was stopped, shown as an `error` event. */
  stopReason?: string | null
  stop_reason?: string | null
  /** Shown to the user as an `error` event. */
  systemMessage?: string | null
  system_message?: string | null
}
type MaybePromise<T> = T | Promise<T>
export type HookCallback<E extends HookEvent = HookEvent> = (
  event: E,
) => MaybePromise<HookOutcome | undefined | null | void>
/** A shell command run with the hook event as JSON on stdin; it answers as
 * Claude Code and Codex command hooks do (exit 2 denies, JSON on stdout). */
export interface CommandHook {
  type: 'command'
  command: string
  /** Seconds before it is killed. Default 60. */
  timeout?: number
}
/** The handlers of one event whose `matcher` matches: PreToolUse and
 * PostToolUse a regular expression over the whole tool name (`Bash`,
 * `apply_patch`, `mcp__server__tool`), SessionStart over the source;
 * empty or `*` matches everything. */
export interface HookMatcher<E extends HookEvent = HookEvent> {
  matcher?: string
  hooks: Array<HookCallback<E> | CommandHook>
}
type HookEntry<E extends HookEvent> = HookCallback<E> | HookMatcher<E>
/** Hooks by event: a callback, or a list of callbacks and matcher groups,
 * run in order. */
export type Hooks = {
  [N in HookName]?:
    | HookEntry<Extract<HookEvent, { hook_event_name: N }>>
    | Array<HookEntry<Extract<HookEvent, { hook_event_name: N }>>>
}
/** `true`/`false` approve or deny; a decision name says more. */
export type CanUseTool = (
  request: ApprovalRequest,
) => MaybePromise<boolean | ApprovalDecision | { behavior: ApprovalDecision }>

// ------------------------------------------------------------------ tools

export type JsonSchema = { [key: string]: unknown }
export interface ToolContext {
  threadId: string
  callId: string
  toolName: string
}
/** A schema with Zod's `parse`/`safeParse` (any Zod version). */
export interface ZodLike<T> {
  parse(value: unknown): T
  safeParse(value: unknown): unknown
}
export interface ToolDefinition<Args = any> {
  name: string
  description?: string
  /** A JSON Schema object, or a Zod schema (zod >= 4, or zod-to-json-schema, installed). */
  parameters?: JsonSchema | ZodLike<Args>
  /** A string goes to the model as is, anything else as JSON; a throw is a tool error. */
  execute(args: Args, context: ToolContext): unknown
}
export interface Tool<Args = any> {
  readonly name: string
  readonly description: string
  readonly parameters: JsonSchema
  readonly execute: (args: Args, context: ToolContext) => unknown
}
export function tool<Args = any>(definition: ToolDefinition<Args>): Tool<Args>

// ------------------------------------------------------------------ options

export interface EnvPolicy {
  inherit?: 'all' | 'core' | 'none'
  ignoreDefaultExcludes?: boolean
  exclude?: string[]
  includeOnly?: string[]
  set?: Record<string, string>
}

/** An MCP server: stdio (`command`) or streamable HTTP (`url`). Option
 * names are camelCase (`startupTimeoutSec`, or core's snake_case); the keys
 * of `env`, `httpHeaders` and `envHttpHeaders` are kept as given. */
export interface McpServer {
  /** stdio: the program to run (looked up on PATH). */
  command?: string
  args?: string[]
  /** stdio: variables to set; the server otherwise gets a minimal environment. */
  env?: Record<string, string>
  /** stdio: names of variables of this process passed through. */
  envVars?: string[]
  /** stdio: working directory, relative to the agent's cwd. */
  cwd?: string
  /** Streamable HTTP: the endpoint URL. */
  url?: string
  /** HTTP: the variable holding a bearer token. */
  bearerTokenEnvVar?: string
  httpHeaders?: Record<string, string>
  /** HTTP: header name → the variable holding its value. */
  envHttpHeaders?: Record<string, string>
  /** Default true. */
  enabled?: boolean
  /** A server that fails to start fails the run (ConfigError) instead of
   * being left out with a warning. Default false. */
  required?: boolean
  /** Default 10. */
  startupTimeoutSec?: number
  /** Default 60. */
  toolTimeoutSec?: number
  /** Offer only these tools (their MCP names). */
  enabledTools?: string[]
  disabledTools?: string[]
}

/** A model's price in USD per 1M tokens. */
export interface ModelPrice {
  input: number
  /** Default: the `input` price. */
  cachedInput?: number
  output: number
}

/**
 * Core's AgentOptions in camelCase, plus the JavaScript callbacks. Only
 * option names change case (one level into `shellEnvironmentPolicy`,
 * `mcpServers.NAME` and `modelPrices.MODEL`); maps keep their keys
 * (headers, variables, server and model names, `configOverrides`).
 * Options left out come from the config files, then the defaults.
 */
export interface AgentOptions {
  model?: string
  provider?: string
  baseUrl?: string
  wireApi?: WireApi
  apiKeyEnv?: string
  apiKey?: string
  httpHeaders?: Record<string, string>
  queryParams?: Record<string, string>
  requestMaxRetries?: number
  streamMaxRetries?: number
  streamIdleTimeoutMs?: number
  cassette?: string
  record?: string
  cwd?: string
  /** Default: config, else `read-only`. */
  sandbox?: SandboxMode | null
  writableRoots?: string[]
  networkAccess?: boolean
  /** Default: config, else `never`. */
  approvalPolicy?: ApprovalPolicy | null
  instructions?: string
  developerInstructions?: string
  allowedTools?: string[]
  disallowedTools?: string[]
  shellTool?: ShellToolKind
  fileTools?: boolean
  /** JSON Schema (or a Zod schema) of every run's final answer; the run
   * result's `output` is the parsed answer. */
  outputSchema?: JsonSchema | ZodLike<unknown>
  /** How often an answer that does not match is sent back to the model
   * before the run fails with OutputInvalidError. Default 0. */
  outputSchemaRetries?: number
  reasoningEffort?: ReasoningEffort
  reasoningSummary?: ReasoningSummaryMode
  /** Budget of one run: model requests. */
  maxTurns?: number
  /** Budget of one run: input + output tokens. */
  maxTokens?: number
  /** Budget of one run in USD (from `modelPrices` or the built-in table). */
  maxCostUsd?: number
  /** Budget of one run: wall time in milliseconds. */
  timeoutMs?: number
  /** Prices by model name, over the built-in table. */
  modelPrices?: Record<string, ModelPrice>
  /** The model's context window in tokens. */
  modelContextWindow?: number
  /** Compact once the context reaches this many tokens. Default: 90% of the window. */
  autoCompactTokenLimit?: number
  /** Default true. */
  autoCompact?: boolean
  commandTimeoutMs?: number
  sessionDir?: string
  ephemeral?: boolean
  shellEnvironmentPolicy?: EnvPolicy
  /** MCP servers by name; their tools are offered as `mcp__<name>__<tool>`. */
  mcpServers?: Record<string, McpServer>
  /** Config values by dotted key (`codex exec -c key=value`), over the
   * config files and under these options. */
  configOverrides?: Record<string, unknown>
  /** Read config.toml and hooks.json files. Default true. */
  loadConfigFiles?: boolean
  /** Config, global AGENTS.md, skills. Default: $CODELOOP_HOME, else ~/.codeloop. */
  codeloopHome?: string
  /** Load the project's `.codeloop/` config and hooks. Default: as the user config says. */
  trustProject?: boolean
  /** Send AGENTS.md files to the model. Default true. */
  projectDocs?: boolean
  /** Default 32768. */
  projectDocMaxBytes?: number
  /** More instruction files, sent after AGENTS.md. */
  instructionFiles?: string[]
  /** List SKILL.md skills to the model. Default true. */
  skills?: boolean
  skillRoots?: string[]
  /** Tools run in this process (see `tool()`). */
  tools?: Tool[]
  /** Decides approvals (commands outside the policy, patches, tools). */
  canUseTool?: CanUseTool
  hooks?: Hooks
}

// ------------------------------------------------------------------ agent, threads

export type Input = string | Array<{ type: 'text'; text: string } | { type: 'local_image'; path: string }>

/** Options of one run, over the agent's. */
export interface RunOptions<Output = unknown> {
  /** Aborting interrupts the turn. */
  signal?: AbortSignal
  /** JSON Schema (or a Zod schema) of this run's final answer. */
  outputSchema?: JsonSchema | ZodLike<Output>
  outputSchemaRetries?: number
  maxTurns?: number
  maxTokens?: number
  maxCostUsd?: number
  timeoutMs?: number
}

export interface RunResult<Output = unknown> {
  finalResponse: string
  items: ThreadItem[]
  usage: Usage
  threadId: string
  /** The final answer parsed as JSON when the run had an output schema
   * (through the Zod schema's `parse` when one was given); else null. */
  output: Output
}

export class StreamedTurn implements AsyncIterableIterator<ThreadEvent> {
  private constructor()
  /** The iterator itself, for code written against @openai/codex-sdk. */
  readonly events: AsyncIterableIterator<ThreadEvent>
  [Symbol.asyncIterator](): AsyncIterableIterator<ThreadEvent>
  next(): Promise<IteratorResult<ThreadEvent, undefined>>
  /** Interrupts the turn when the loop is left early. */
  return(): Promise<IteratorResult<ThreadEvent, undefined>>
  interrupt(): void
}

export class Thread {
  private constructor()
  readonly id: string
  /** Cumulative usage as of the last finished turn. */
  readonly usage: Usage
  run<Output>(
    input: Input,
    options: RunOptions<Output> & { outputSchema: ZodLike<Output> },
  ): Promise<RunResult<Output>>
  run(input: Input, options?: RunOptions): Promise<RunResult>
  runStreamed(input: Input, options?: RunOptions): StreamedTurn
  /** Add input to the running turn (taken at its next model request);
   * throws NoActiveTurnError when no turn runs. */
  steer(input: Input): void
  /** Compact the history now; rejects with BusyError while a turn runs. */
  compact(): Promise<Compaction>
  interrupt(): void
}

export interface ForkOptions {
  /** Fork through the end of this turn (from 1). Default: the whole history. */
  atTurn?: number
}

export class Agent {
  constructor(options?: AgentOptions)
  readonly cwd: string
  readonly model: string
  /** What the config layers reported (also `error` events at a thread's start). */
  readonly configWarnings: string[]
  startThread(): Thread
  resumeThread(id: string): Thread
  /** A new thread (own id and rollout) from thread `id`'s history. */
  forkThread(id: string, options?: ForkOptions): Thread
  /** Shut the MCP servers down now, threads alive or not; later runs that
   * need them reject with ConfigError. Idempotent. */
  close(): Promise<void>
}

export interface AppliedPatch {
  changes: FileUpdateChange[]
  summary: string
}
export function applyPatch(patch: string, cwd?: string): AppliedPatch
export function protocolSchema(): JsonSchema
/** The error a turn that failed with `code` rejects with. */
export function errorForCode(code: ErrorCode, message: string): CodeloopError
export const version: string

// ------------------------------------------------------------------ errors

export interface CodeloopErrorOptions {
  code?: ErrorCode | 'patch'
  status?: number | null
  cause?: unknown
}
export class CodeloopError extends Error {
  constructor(message: string, options?: CodeloopErrorOptions)
  readonly code: ErrorCode | 'patch'
}
export class APIError extends CodeloopError {
  /** The HTTP status, when the model API answered with one. */
  readonly status: number | null
}
export class AuthenticationError extends CodeloopError {}
export class ContextWindowError extends CodeloopError {}
export class QuotaExceededError extends CodeloopError {}
export class StreamError extends CodeloopError {}
export class ReplayError extends CodeloopError {}
export class TurnInterruptedError extends CodeloopError {}
export class BudgetExceededError extends CodeloopError {}
export class SandboxError extends CodeloopError {}
export class ConfigError extends CodeloopError {}
/** A canUseTool callback or a hook threw; `cause` is what it threw. */
export class HostCallbackError extends CodeloopError {}
export class BusyError extends CodeloopError {}
export class LocalIOError extends CodeloopError {}
export class InternalError extends CodeloopError {}
/** The final answer did not match the output schema (or was not JSON). */
export class OutputInvalidError extends CodeloopError {
  constructor(message: string, options?: CodeloopErrorOptions & { errors?: string[] })
  /** The validation messages. */
  readonly errors: string[]
}
/** `steer()` while no turn runs on the thread. */
export class NoActiveTurnError extends CodeloopError {}
export class PatchError extends CodeloopError {
  constructor(message: string, options?: CodeloopErrorOptions & { treeUntouched?: boolean })
  /** False only when a failed patch could not be rolled back. */
  readonly treeUntouched: boolean
}

declare const codeloop: {
  Agent: typeof Agent
  tool: typeof tool
  applyPatch: typeof applyPatch
  CodeloopError: typeof CodeloopError
}
export default codeloop
