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
export interface McpToolCallItem {
  id: string
  type: 'mcp_tool_call'
  server: string
  tool: string
  arguments: unknown
  result?: { content: unknown[]; structured_content?: unknown }
  error?: ItemError
  status: ToolCallStatus
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

export type ThreadEvent =
  | { type: 'thread.started'; thread_id: string }
  | { type: 'turn.started' }
  | { type: 'turn.completed'; usage: Usage }
  | { type: 'turn.failed'; error: ThreadError }
  | { type: 'item.started'; item: ThreadItem }
  | { type: 'item.updated'; item: ThreadItem }
  | { type: 'item.completed'; item: ThreadItem }
  | { type: 'item.delta'; item_id: string; item_type: DeltaKind; delta: string }
  | { type: 'error'; message: string }

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

/** A hook's answer; nothing (or `{}`) lets things go on unchanged. */
export interface HookOutcome {
  decision?: 'continue' | 'allow' | 'deny'
  /** Shown to the model when the hook denies. */
  reason?: string | null
  /** PreToolUse: replaces the tool's input. */
  updatedInput?: unknown
  updated_input?: unknown
  /** Added to the conversation as context for the model. */
  additionalContext?: string
  additional_context?: string
}
type MaybePromise<T> = T | Promise<T>
export type HookCallback<E extends HookEvent = HookEvent> = (
  event: E,
) => MaybePromise<HookOutcome | undefined | null | void>
export type Hooks = {
  [N in HookName]?:
    | HookCallback<Extract<HookEvent, { hook_event_name: N }>>
    | Array<HookCallback<Extract<HookEvent, { hook_event_name: N }>>>
}
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

/** Core's AgentOptions in camelCase, plus the JavaScript callbacks. */
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
  sandbox?: SandboxMode
  writableRoots?: string[]
  networkAccess?: boolean
  approvalPolicy?: ApprovalPolicy
  instructions?: string
  developerInstructions?: string
  allowedTools?: string[]
  disallowedTools?: string[]
  shellTool?: ShellToolKind
  fileTools?: boolean
  outputSchema?: JsonSchema
  reasoningEffort?: ReasoningEffort
  reasoningSummary?: ReasoningSummaryMode
  maxTurns?: number
  commandTimeoutMs?: number
  sessionDir?: string
  ephemeral?: boolean
  shellEnvironmentPolicy?: EnvPolicy
  /** Tools run in this process (see `tool()`). */
  tools?: Tool[]
  /** Decides approvals (commands outside the policy, patches, tools). */
  canUseTool?: CanUseTool
  hooks?: Hooks
}

// ------------------------------------------------------------------ agent, threads

export type Input = string | Array<{ type: 'text'; text: string } | { type: 'local_image'; path: string }>

export interface RunOptions {
  /** Aborting interrupts the turn. */
  signal?: AbortSignal
}

export interface RunResult {
  finalResponse: string
  items: ThreadItem[]
  usage: Usage
  threadId: string
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
  run(input: Input, options?: RunOptions): Promise<RunResult>
  runStreamed(input: Input, options?: RunOptions): StreamedTurn
  interrupt(): void
}

export class Agent {
  constructor(options?: AgentOptions)
  readonly cwd: string
  readonly model: string
  startThread(): Thread
  resumeThread(id: string): Thread
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
