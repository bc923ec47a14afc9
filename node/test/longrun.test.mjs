// Long-running work through the Node API: structured output (parsed, or
// OutputInvalidError with the validation messages), budgets, steering,
// compaction (manual and the thread.compacted event) and forkThread.
import assert from 'node:assert/strict'
import * as test from 'node:test'

import {
  Agent,
  BudgetExceededError,
  BusyError,
  ConfigError,
  NoActiveTurnError,
  OutputInvalidError,
  tool,
} from '../index.mjs'
import {
  callTurn,
  functionCall,
  messageTexts,
  shellCall,
  tempDir,
  textTurn,
  toolOutputs,
  useMock,
} from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test

const ANSWER_SCHEMA = {
  type: 'object',
  properties: { answer: { type: 'integer' } },
  required: ['answer'],
  additionalProperties: false,
}

it('outputSchema per run: the parsed output, and the schema sent as text.format', async (t) => {
  await ctx.mock.push(textTurn('{"answer": 42}'), textTurn('plain text'))
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  const thread = agent.startThread()
  const result = await thread.run('what is the answer?', { outputSchema: ANSWER_SCHEMA })
  assert.deepEqual(result.output, { answer: 42 })
  assert.equal(result.finalResponse, '{"answer": 42}')
  // Without a schema there is no output.
  const plain = await thread.run('and now?')
  assert.equal(plain.output, null)
  const [first, second] = await ctx.mock.requests()
  assert.equal(first.body.text.format.type, 'json_schema')
  assert.deepEqual(first.body.text.format.schema.properties, ANSWER_SCHEMA.properties)
  assert.equal(second.body.text?.format, undefined)
  // A streamed run's turn.completed carries the parsed output.
  await ctx.mock.push(textTurn('{"answer": 7}'))
  let completed
  for await (const event of thread.runStreamed('stream it', { outputSchema: ANSWER_SCHEMA })) {
    if (event.type === 'turn.completed') completed = event
  }
  assert.deepEqual(completed.output, { answer: 7 })
})

it('an answer that does not match rejects with OutputInvalidError and its messages', async (t) => {
  await ctx.mock.push(textTurn('{"answer": "forty-two"}'))
  const { agent } = await ctx.makeAgent(t, { outputSchema: ANSWER_SCHEMA }, Agent)
  await assert.rejects(agent.startThread().run('answer'), (err) => {
    assert.ok(err instanceof OutputInvalidError, String(err))
    assert.equal(err.code, 'output_invalid')
    assert.ok(err.errors.length >= 1)
    assert.ok(err.errors.some((e) => /answer/.test(e) && /integer/.test(e)), JSON.stringify(err.errors))
    return true
  })
})

it('outputSchemaRetries re-asks the model, then the run succeeds', async (t) => {
  await ctx.mock.push(textTurn('not json at all'), textTurn('{"answer": 7}'))
  const { agent } = await ctx.makeAgent(t, { outputSchema: ANSWER_SCHEMA }, Agent)
  const result = await agent.startThread().run('answer', { outputSchemaRetries: 1 })
  assert.deepEqual(result.output, { answer: 7 })
  const requests = await ctx.mock.requests()
  assert.equal(requests.length, 2)
})

it('a Zod outputSchema without a converter installed is a ConfigError naming zod', async (t) => {
  // The smallest thing the package treats as a Zod schema.
  const zodLike = {
    safeParse: () => ({ success: true }),
    parse: (value) => value,
  }
  await ctx.mock.push(textTurn('{"answer": 1}'))
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  // No zod converter installed here: a Zod schema is a ConfigError naming what to install.
  await assert.rejects(agent.startThread().run('x', { outputSchema: zodLike }), (err) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /zod/)
    return true
  })
})

it('maxTokens per run trips a BudgetExceededError; the thread runs again', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'echo one')), textTurn('unreached'))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const thread = agent.startThread()
  await assert.rejects(thread.run('work', { maxTokens: 50 }), (err) => {
    assert.ok(err instanceof BudgetExceededError, String(err))
    assert.equal(err.code, 'budget_exceeded')
    assert.match(err.message, /token/)
    return true
  })
  assert.equal((await ctx.mock.requests()).length, 1)
  await ctx.mock.reset()
  await ctx.mock.push(textTurn('fine'))
  assert.equal((await thread.run('go on')).finalResponse, 'fine')
})

it('timeoutMs stops a run whose command would run on', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'sleep 30')))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access', timeoutMs: 300 }, Agent)
  const started = Date.now()
  await assert.rejects(agent.startThread().run('sleep'), BudgetExceededError)
  assert.ok(Date.now() - started < 20_000)
})

it('unknown run options are refused', async (t) => {
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  await assert.rejects(agent.startThread().run('x', { maxTurnz: 1 }), (err) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /max_turnz/)
    return true
  })
})

it('steer() adds input to the running turn; with no turn it throws NoActiveTurnError', async (t) => {
  let thread
  const steering = tool({
    name: 'check_in',
    execute: () => {
      // Called while the turn runs: the input goes with its next request.
      thread.steer('STEERED: also update the docs')
      return 'checked'
    },
  })
  await ctx.mock.push(callTurn(functionCall('c1', 'check_in', {})), textTurn('docs too'))
  const { agent } = await ctx.makeAgent(t, { tools: [steering] }, Agent)
  thread = agent.startThread()
  assert.throws(() => thread.steer('too early'), NoActiveTurnError)
  const result = await thread.run('do the work')
  assert.equal(result.finalResponse, 'docs too')
  const [first, second] = await ctx.mock.requests()
  assert.doesNotMatch(JSON.stringify(first.body.input), /STEERED/)
  assert.equal(toolOutputs(second).c1, 'checked')
  assert.equal(messageTexts(second).at(-1), 'STEERED: also update the docs')
  assert.throws(() => thread.steer('too late'), (err) => {
    assert.ok(err instanceof NoActiveTurnError)
    assert.equal(err.code, 'no_active_turn')
    return true
  })
})

it('compact() summarizes the history; the next request starts from the summary', async (t) => {
  await ctx.mock.push(
    callTurn(shellCall('c1', 'echo OLD-TOOL-OUTPUT')),
    textTurn('first done'),
    textTurn('HANDOFF-SUMMARY: echo ran'),
    textTurn('second done'),
  )
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const thread = agent.startThread()
  assert.deepEqual(await thread.compact(), {
    trigger: 'manual',
    tokens_before: 0,
    items_before: 0,
    items_after: 0,
  })
  await thread.run('first task')
  const compaction = await thread.compact()
  assert.equal(compaction.trigger, 'manual')
  assert.ok(compaction.items_after < compaction.items_before, JSON.stringify(compaction))
  assert.equal(compaction.tokens_before, 110)
  await thread.run('second task')
  const requests = await ctx.mock.requests()
  assert.equal(requests.length, 4)
  assert.match(messageTexts(requests[2]).at(-1), /Context checkpoint/)
  const after = JSON.stringify(requests[3].body.input)
  assert.match(after, /HANDOFF-SUMMARY/)
  assert.doesNotMatch(after, /OLD-TOOL-OUTPUT/)
})

it('compact() while a turn runs rejects with BusyError', async (t) => {
  let thread
  let outcome
  const probe = tool({
    name: 'probe',
    execute: async () => {
      // A throw here would only be a tool error the model sees: keep the
      // outcome and check it after the run.
      outcome = await thread.compact().then((value) => ({ value }), (error) => ({ error }))
      return 'probed'
    },
  })
  await ctx.mock.push(callTurn(functionCall('c1', 'probe', {})), textTurn('ok'))
  const { agent } = await ctx.makeAgent(t, { tools: [probe] }, Agent)
  thread = agent.startThread()
  await thread.run('go')
  assert.ok(outcome?.error instanceof BusyError, JSON.stringify(outcome))
  assert.equal((await ctx.mock.requests()).length, 2, 'nothing was sent to compact')
})

it('auto compaction is a thread.compacted event', async (t) => {
  await ctx.mock.push(
    callTurn(shellCall('c1', 'echo big')),
    textTurn('SUMMARY'),
    textTurn('finished'),
  )
  const { agent } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', autoCompactTokenLimit: 100 },
    Agent,
  )
  const events = []
  for await (const event of agent.startThread().runStreamed('work')) events.push(event)
  assert.equal(events.at(-1).type, 'turn.completed')
  const compacted = events.filter((e) => e.type === 'thread.compacted')
  assert.equal(compacted.length, 1, JSON.stringify(events.map((e) => e.type)))
  assert.equal(compacted[0].trigger, 'auto')
  assert.equal(compacted[0].tokens_before, 110)
})

it('forkThread() copies the history, all of it or through a turn', async (t) => {
  const sessions = tempDir(t)
  await ctx.mock.push(textTurn('one'), textTurn('two'))
  const { agent } = await ctx.makeAgent(t, { ephemeral: false, sessionDir: sessions }, Agent)
  const source = agent.startThread()
  await source.run('FIRST-PROMPT')
  await source.run('SECOND-PROMPT')

  const whole = agent.forkThread(source.id)
  const cut = agent.forkThread(source.id, { atTurn: 1 })
  assert.notEqual(whole.id, source.id)
  assert.notEqual(cut.id, whole.id)
  await ctx.mock.reset()
  await ctx.mock.push(textTurn('from whole'), textTurn('from cut'))
  await whole.run('THIRD-PROMPT')
  await cut.run('THIRD-PROMPT')
  const [fromWhole, fromCut] = (await ctx.mock.requests()).map((r) => JSON.stringify(r.body.input))
  assert.match(fromWhole, /FIRST-PROMPT[\s\S]*SECOND-PROMPT[\s\S]*THIRD-PROMPT/)
  assert.match(fromCut, /FIRST-PROMPT[\s\S]*THIRD-PROMPT/)
  assert.doesNotMatch(fromCut, /SECOND-PROMPT/)
  // A fork is resumable like any thread.
  assert.equal(agent.resumeThread(cut.id).id, cut.id)

  assert.throws(() => agent.forkThread(source.id, { atTurn: 5 }), ConfigError)
  assert.throws(() => agent.forkThread(source.id, { atTurn: 1.5 }), ConfigError)
  assert.throws(() => agent.forkThread('no-such-thread'), ConfigError)
})
