// Runs: run(), runStreamed(), AbortSignal, interrupt(), resumeThread(), and
// the package imported both ways.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import * as test from 'node:test'

import * as codeloop from '../index.mjs'
import { Agent, TurnInterruptedError, BusyError, ConfigError, APIError } from '../index.mjs'
import { callTurn, httpError, shellCall, tempDir, textTurn, toolOutputs, useMock } from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test

it('run() returns the final response, items, usage and thread id', async (t) => {
  await ctx.mock.push(textTurn('hello from the mock'))
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  const thread = agent.startThread()
  const result = await thread.run('say hello')
  assert.equal(result.finalResponse, 'hello from the mock')
  assert.equal(result.threadId, thread.id)
  assert.deepEqual(result.items.map((i) => i.type), ['agent_message'])
  assert.deepEqual(result.usage, {
    input_tokens: 100,
    cached_input_tokens: 40,
    output_tokens: 10,
    reasoning_output_tokens: 3,
  })
  assert.deepEqual(thread.usage, result.usage)
  const [request] = await ctx.mock.requests()
  assert.equal(request.body.model, 'mock-model')
  assert.equal(request.headers.authorization, 'Bearer test-key')
})

it('runStreamed() yields the Codex events in order, with snake_case fields', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'echo streamed-output')), textTurn('done'))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const thread = agent.startThread()
  const events = []
  for await (const event of thread.runStreamed('run echo')) events.push(event)
  const types = events.map((e) => e.type)
  assert.equal(types[0], 'thread.started')
  assert.equal(events[0].thread_id, thread.id)
  assert.equal(types[1], 'turn.started')
  assert.equal(types.at(-1), 'turn.completed')
  const command = events.find((e) => e.type === 'item.completed' && e.item.type === 'command_execution')
  assert.ok(command, JSON.stringify(types))
  assert.equal(command.item.exit_code, 0)
  assert.match(command.item.aggregated_output, /streamed-output/)
  assert.ok(types.includes('item.started'))
  const last = events.findLast((e) => e.type === 'item.completed')
  assert.deepEqual(last.item.type, 'agent_message')
  assert.equal(last.item.text, 'done')
})

it('a failed turn ends the stream with turn.failed and rejects run() with its class', async (t) => {
  await ctx.mock.push(httpError(400, 'bad model name'), httpError(400, 'bad model name'))
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  const events = []
  for await (const event of agent.startThread().runStreamed('x')) events.push(event)
  const failed = events.at(-1)
  assert.equal(failed.type, 'turn.failed')
  assert.equal(failed.error.code, 'model_api')
  await assert.rejects(agent.startThread().run('x'), (err) => {
    assert.ok(err instanceof APIError && err instanceof codeloop.CodeloopError)
    assert.equal(err.code, 'model_api')
    assert.equal(err.status, 400)
    assert.match(err.message, /bad model name/)
    return true
  })
})

it('an AbortSignal interrupts the turn and kills its command', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'sleep 30; touch late.txt')))
  const { agent, workdir } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const controller = new AbortController()
  const thread = agent.startThread()
  const started = Date.now()
  const stream = thread.runStreamed('sleep', { signal: controller.signal })
  const seen = []
  for await (const event of stream) {
    seen.push(event.type)
    // Abort once the command is running, not before.
    if (event.type === 'item.started' && event.item.type === 'command_execution') {
      controller.abort(new Error('user pressed stop'))
    }
  }
  assert.equal(seen.at(-1), 'turn.failed')
  assert.ok(Date.now() - started < 20_000, 'the sleep was killed')
  assert.equal(existsSync(join(workdir, 'late.txt')), false)

  // run() with a signal rejects with TurnInterruptedError, the reason as cause.
  await ctx.mock.push(callTurn(shellCall('c2', 'sleep 30')))
  const again = new AbortController()
  const pending = thread.run('sleep again', { signal: again.signal })
  const reason = new Error('stop now')
  setImmediate(() => again.abort(reason))
  await assert.rejects(pending, (err) => {
    assert.ok(err instanceof TurnInterruptedError)
    assert.equal(err.code, 'interrupted')
    assert.equal(err.cause, reason)
    return true
  })
})

it('an already-aborted signal fails the turn at once', async (t) => {
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  await assert.rejects(
    agent.startThread().run('x', { signal: AbortSignal.abort() }),
    TurnInterruptedError,
  )
})

it('thread.interrupt() ends a running turn; the thread runs again afterwards', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'sleep 30')))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const thread = agent.startThread()
  const events = []
  for await (const event of thread.runStreamed('sleep')) {
    events.push(event)
    if (event.type === 'item.started') thread.interrupt()
  }
  assert.equal(events.at(-1).type, 'turn.failed')
  assert.equal(events.at(-1).error.code, 'interrupted')
  await ctx.mock.push(textTurn('back again'))
  assert.equal((await thread.run('again')).finalResponse, 'back again')
})

it('breaking out of the loop interrupts the turn and frees the thread', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'sleep 30')))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const thread = agent.startThread()
  for await (const event of thread.runStreamed('sleep')) {
    if (event.type === 'item.started') break
  }
  await ctx.mock.push(textTurn('free'))
  assert.equal((await thread.run('again')).finalResponse, 'free')
})

it('a second run on a busy thread fails with BusyError', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'sleep 30')))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const thread = agent.startThread()
  const first = thread.runStreamed('sleep')
  const firstEvent = await first.next()
  assert.equal(firstEvent.value.type, 'thread.started')
  await assert.rejects(thread.run('second'), BusyError)
  await first.return()
})

it('resumeThread() continues a thread from its rollout with its history', async (t) => {
  const sessions = tempDir(t)
  await ctx.mock.push(textTurn('first answer'))
  const { agent, workdir } = await ctx.makeAgent(t, { ephemeral: false, sessionDir: sessions }, Agent)
  const thread = agent.startThread()
  await thread.run('remember the word banana')

  const { agent: later } = await ctx.makeAgent(
    t,
    { ephemeral: false, sessionDir: sessions, cwd: workdir },
    Agent,
  )
  const resumed = later.resumeThread(thread.id)
  assert.equal(resumed.id, thread.id)
  await ctx.mock.push(textTurn('second answer'))
  assert.equal((await resumed.run('what was the word?')).finalResponse, 'second answer')
  const requests = await ctx.mock.requests()
  const texts = JSON.stringify(requests[1].body.input)
  assert.match(texts, /remember the word banana/)
  assert.match(texts, /first answer/)

  assert.throws(() => later.resumeThread('no-such-thread'), codeloop.CodeloopError)
})

it('invalid options throw ConfigError naming the option', () => {
  assert.throws(() => new Agent({ sandbox: 'nope' }), ConfigError)
  assert.throws(() => new Agent({ notAnOption: 1 }), (err) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /not_an_option/)
    return true
  })
})

it('camelCase options reach the core as its snake_case options', async (t) => {
  await ctx.mock.push(textTurn('ok'))
  const { agent } = await ctx.makeAgent(
    t,
    { developerInstructions: 'SPECIAL-DEV-NOTE', disallowedTools: ['read_file'], fileTools: true },
    Agent,
  )
  await agent.startThread().run('hi')
  const [request] = await ctx.mock.requests()
  assert.match(JSON.stringify(request.body.input), /SPECIAL-DEV-NOTE/)
  const names = request.body.tools.map((tool) => tool.name ?? tool.type)
  assert.ok(!names.includes('read_file') && names.includes('list_dir'), names.join(','))
})

it('the package is the same module from require() and import', () => {
  const cjs = createRequire(import.meta.url)('codeloop')
  assert.equal(cjs.Agent, Agent)
  assert.equal(typeof cjs.tool, 'function')
  assert.equal(codeloop.default.Agent, Agent)
})

it('tool output reaches the model in the next request', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'echo 42')), textTurn('the answer is 42'))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  await agent.startThread().run('compute')
  const requests = await ctx.mock.requests()
  assert.match(toolOutputs(requests[1]).c1, /42/)
})
