// Compiled by `tsc --noEmit` only: exercises the public typings the way a
// TypeScript program would, so a wrong declaration fails the build.
import { Agent, CodeloopError, HostCallbackError, tool, type ThreadEvent, type RunResult } from 'codeloop'

const lookup = tool<{ id: number }>({
  name: 'lookup_ticket',
  description: 'Find a ticket',
  parameters: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
  execute: async ({ id }, context) => ({ id, thread: context.threadId }),
})

export async function main(signal: AbortSignal): Promise<string> {
  const agent = new Agent({
    model: 'gpt-5.4',
    sandbox: 'workspace-write',
    approvalPolicy: 'untrusted',
    tools: [lookup],
    canUseTool: async (request) => (request.kind === 'command' ? request.command[0] === 'ls' : 'deny'),
    hooks: {
      PreToolUse: (event) => (event.tool_name === 'Bash' ? { decision: 'allow' } : undefined),
      Stop: [(event) => (event.stop_hook_active ? null : { additionalContext: 'done?' })],
    },
  })
  const thread = agent.startThread()
  const result: RunResult = await thread.run('fix the test', { signal })
  for await (const event of thread.runStreamed('again')) {
    const e: ThreadEvent = event
    if (e.type === 'item.completed' && e.item.type === 'command_execution') {
      const code: number | null = e.item.exit_code
      void code
    }
  }
  try {
    agent.resumeThread(thread.id)
  } catch (err) {
    if (err instanceof HostCallbackError || err instanceof CodeloopError) return err.code
  }
  return result.finalResponse
}
