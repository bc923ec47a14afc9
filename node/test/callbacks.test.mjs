// canUseTool and hooks: JavaScript functions (sync or async) that approve,
// deny or change what the agent does; a throw or a rejection fails the turn
// with HostCallbackError whose cause is what was thrown.
import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as test from 'node:test'

import { Agent, HostCallbackError, TurnInterruptedError } from '../index.mjs'
import { callTurn, shellCall, textTurn, toolOutputs, useMock } from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test

it('canUseTool approves and denies commands under "untrusted"', async (t) => {
  const requests = []
  const canUseTool = async (request) => {
    requests.push(request)
    await new Promise((resolve) => setImmediate(resolve))
    return request.command.join(' ').includes('allowed')
  }
  await ctx.mock.push(
    callTurn(shellCall('c1', 'touch allowed.txt'), shellCall('c2', 'touch denied.txt')),
    textTurn('tried both'),
  )
  const { agent, workdir } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', approvalPolicy: 'untrusted', canUseTool },
    Agent,
  )
  const thread = agent.startThread()
  const result = await thread.run('create the files')
  assert.equal(result.finalResponse, 'tried both')
  assert.ok(existsSync(join(workdir, 'allowed.txt')))
  assert.ok(!existsSync(join(workdir, 'denied.txt')))
  assert.deepEqual(requests.map((r) => r.call_id).sort(), ['c1', 'c2'])
  assert.equal(requests[0].thread_id, thread.id)
  assert.equal(requests[0].kind, 'command')
  const statuses = result.items.filter((i) => i.type === 'command_execution').map((i) => i.status)
  assert.deepEqual(statuses.sort(), ['completed', 'declined'])
  assert.match(toolOutputs((await ctx.mock.requests())[1]).c2, /rejected by user/)
})

it('canUseTool answering "abort" ends the turn', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'touch never.txt')))
  const { agent, workdir } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', approvalPolicy: 'untrusted', canUseTool: () => 'abort' },
    Agent,
  )
  await assert.rejects(agent.startThread().run('try'), TurnInterruptedError)
  assert.ok(!existsSync(join(workdir, 'never.txt')))
  assert.equal((await ctx.mock.requests()).length, 1)
})

it('without canUseTool approvals are denied', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'touch nope.txt')), textTurn('ok'))
  const { agent, workdir } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', approvalPolicy: 'untrusted' },
    Agent,
  )
  await agent.startThread().run('try')
  assert.ok(!existsSync(join(workdir, 'nope.txt')))
})

it('PreToolUse hooks deny and rewrite calls; a deny stops the chain', async (t) => {
  const seen = []
  const guard = (event) => {
    seen.push(event)
    const command = event.tool_input.command
    if (command.includes('rm ')) return { decision: 'deny', reason: 'no deleting' }
    if (command.includes('old.txt')) {
      return { updatedInput: { command: command.replace('old.txt', 'new.txt') } }
    }
    return { decision: 'allow' }
  }
  const audit = async (event) => {
    seen.push({ audit: event.tool_input.command })
  }
  await ctx.mock.push(
    callTurn(shellCall('c1', 'rm keep.txt'), shellCall('c2', 'touch old.txt')),
    textTurn('done'),
  )
  const { agent, workdir } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', hooks: { PreToolUse: [guard, audit] } },
    Agent,
  )
  writeFileSync(join(workdir, 'keep.txt'), 'keep')
  const thread = agent.startThread()
  await thread.run('clean up')
  assert.ok(existsSync(join(workdir, 'keep.txt')))
  assert.ok(existsSync(join(workdir, 'new.txt')))
  assert.ok(!existsSync(join(workdir, 'old.txt')))
  const outputs = toolOutputs((await ctx.mock.requests())[1])
  assert.match(outputs.c1, /no deleting/)
  assert.equal(seen[0].session_id, thread.id)
  assert.ok(seen.some((s) => s.audit === 'touch new.txt'))
  assert.ok(!seen.some((s) => s.audit?.startsWith('rm')))
})

it('lifecycle hooks add context, block prompts and keep the turn going', async (t) => {
  const events = []
  const stops = []
  const hooks = {
    SessionStart: (event) => {
      events.push(event.hook_event_name)
      return { additionalContext: 'the project uses tabs' }
    },
    UserPromptSubmit: async (event) => {
      events.push(event.hook_event_name)
      if (event.prompt.includes('secret')) return { decision: 'deny', reason: 'prompt mentions a secret' }
      return undefined
    },
    Stop: (event) => {
      stops.push(event.stop_hook_active)
      return event.stop_hook_active ? null : { decision: 'deny', reason: 'also write the changelog' }
    },
    PostToolUse: () => undefined,
  }
  await ctx.mock.push(textTurn('first answer'), textTurn('changelog written'))
  const { agent } = await ctx.makeAgent(t, { hooks }, Agent)
  const thread = agent.startThread()
  const result = await thread.run('do the work')
  assert.equal(result.finalResponse, 'changelog written')
  assert.deepEqual(stops, [false, true])
  assert.deepEqual(events, ['SessionStart', 'UserPromptSubmit'])
  const [first, second] = await ctx.mock.requests()
  assert.match(JSON.stringify(first.body.input), /the project uses tabs/)
  assert.match(JSON.stringify(second.body.input.at(-1)), /also write the changelog/)
  await assert.rejects(thread.run('print the secret'), (err) => {
    assert.ok(err instanceof HostCallbackError)
    assert.match(err.message, /prompt mentions a secret/)
    return true
  })
  assert.equal((await ctx.mock.requests()).length, 2)
})

it('a throwing hook fails the turn with HostCallbackError, the throw as cause', async (t) => {
  const boom = new RangeError('the hook broke')
  await ctx.mock.push(callTurn(shellCall('c1', 'echo hi')), textTurn('unreached'))
  const { agent } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', hooks: { PreToolUse: () => { throw boom } } },
    Agent,
  )
  const thread = agent.startThread()
  const events = []
  for await (const event of thread.runStreamed('go')) events.push(event)
  assert.equal(events.at(-1).type, 'turn.failed')
  assert.equal(events.at(-1).error.code, 'host')

  await ctx.mock.reset()
  await ctx.mock.push(callTurn(shellCall('c1', 'echo hi')), textTurn('unreached'))
  await assert.rejects(thread.run('go'), (err) => {
    assert.ok(err instanceof HostCallbackError)
    assert.equal(err.code, 'host')
    assert.match(err.message, /the hook broke/)
    assert.equal(err.cause, boom)
    return true
  })
})

for (const flavour of ['sync', 'async']) {
  it(`a ${flavour} canUseTool that throws fails the turn with its cause`, async (t) => {
    class PolicyError extends Error {}
    const canUseTool = flavour === 'sync'
      ? () => { throw new PolicyError('cannot decide') }
      : async () => Promise.reject(new PolicyError('cannot decide'))
    await ctx.mock.push(callTurn(shellCall('c1', 'touch x')), textTurn('unreached'))
    const { agent } = await ctx.makeAgent(
      t,
      { sandbox: 'danger-full-access', approvalPolicy: 'untrusted', canUseTool },
      Agent,
    )
    await assert.rejects(agent.startThread().run('go'), (err) => {
      assert.ok(err instanceof HostCallbackError)
      assert.match(err.message, /canUseTool threw/)
      assert.ok(err.cause instanceof PolicyError)
      return true
    })
  })
}

it('an invalid canUseTool answer is a clear error, from core', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'touch x')))
  const { agent } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', approvalPolicy: 'untrusted', canUseTool: () => 'maybe' },
    Agent,
  )
  await assert.rejects(agent.startThread().run('go'), (err) => {
    assert.ok(err instanceof HostCallbackError)
    assert.match(err.message, /canUseTool answered "maybe"/)
    // Nothing threw in JavaScript: the answer was passed through as it was.
    assert.equal(err.cause, undefined)
    return true
  })
})

it('unknown hook names are refused', () => {
  assert.throws(() => new Agent({ hooks: { PreToolUs: () => {} } }), /unknown hook PreToolUs/)
})
