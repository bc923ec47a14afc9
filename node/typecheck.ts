// Compiled by `tsc --noEmit` only: exercises the public typings the way a
// TypeScript program would, so a wrong declaration fails the build.
import {
  Agent,
  CodeloopError,
  HostCallbackError,
  NoActiveTurnError,
  OutputInvalidError,
  tool,
  type Compaction,
  type RunResult,
  type ThreadEvent,
  type ZodLike,
} from 'codeloop'

const lookup = tool<{ id: number }>({
  name: 'lookup_ticket',
  description: 'Find a ticket',
  parameters: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
  execute: async ({ id }, context) => ({ id, thread: context.threadId }),
})

declare const Answer: ZodLike<{ answer: number }>

export async function main(signal: AbortSignal): Promise<string> {
  const agent = new Agent({
    model: 'gpt-5.4',
    sandbox: 'workspace-write',
    approvalPolicy: null,
    tools: [lookup],
    canUseTool: async (request) => (request.kind === 'command' ? request.command[0] === 'ls' : 'deny'),
    hooks: {
      PreToolUse: [
        (event) => (event.tool_name === 'Bash' ? { decision: 'allow' } : undefined),
        {
          matcher: 'Bash|apply_patch',
          hooks: [
            { type: 'command', command: './check.sh', timeout: 10 },
            (event) => ({ updatedInput: event.tool_input, decision: 'ask' }),
          ],
        },
      ],
      Stop: [(event) => (event.stop_hook_active ? null : { additionalContext: 'done?' })],
      PostToolUse: (event) => ({ stop: event.tool_name === 'Bash', stopReason: 'enough' }),
    },
    mcpServers: {
      docs: { url: 'http://127.0.0.1:8000/mcp', bearerTokenEnvVar: 'DOCS_TOKEN', required: true },
      everything: { command: 'npx', args: ['server-everything'], env: { LOG_LEVEL: 'debug' } },
    },
    configOverrides: { 'sandbox_workspace_write.network_access': true },
    codeloopHome: '/tmp/codeloop-home',
    loadConfigFiles: true,
    trustProject: false,
    projectDocs: true,
    projectDocMaxBytes: 16384,
    instructionFiles: ['docs/STYLE.md'],
    skills: true,
    skillRoots: ['skills'],
    outputSchemaRetries: 1,
    maxTokens: 100_000,
    maxCostUsd: 1.5,
    timeoutMs: 60_000,
    modelPrices: { 'gpt-5.4': { input: 1.25, cachedInput: 0.125, output: 10 } },
    modelContextWindow: 272_000,
    autoCompactTokenLimit: 200_000,
    autoCompact: true,
  })
  const thread = agent.startThread()
  const result: RunResult = await thread.run('fix the test', { signal, maxTurns: 20 })
  const typed = await thread.run('answer', { outputSchema: Answer, timeoutMs: 5_000 })
  const answer: number = typed.output.answer
  void answer
  for await (const event of thread.runStreamed('again', { maxCostUsd: 0.5 })) {
    const e: ThreadEvent = event
    if (e.type === 'item.completed' && e.item.type === 'command_execution') {
      const code: number | null = e.item.exit_code
      void code
    }
    if (e.type === 'item.completed' && e.item.type === 'mcp_tool_call') {
      const text: string | undefined = e.item.result?.content[0]?.text
      void text
    }
    if (e.type === 'thread.compacted') {
      const before: number = e.tokens_before
      void before
    }
  }
  const compaction: Compaction = await thread.compact()
  void compaction.items_after
  const fork = agent.forkThread(thread.id, { atTurn: 1 })
  try {
    fork.steer('also update the docs')
  } catch (err) {
    if (err instanceof NoActiveTurnError) void err.code
  }
  const warnings: string[] = agent.configWarnings
  void warnings
  try {
    agent.resumeThread(thread.id)
  } catch (err) {
    if (err instanceof OutputInvalidError) return err.errors.join('\n')
    if (err instanceof HostCallbackError || err instanceof CodeloopError) return err.code
  }
  const closed: Promise<void> = agent.close()
  await closed
  return result.finalResponse
}
