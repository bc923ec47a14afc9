// Host tools: JavaScript functions the model calls, sync or async; a throw
// becomes a tool error the model sees, and the turn goes on.
import assert from 'node:assert/strict'
import * as test from 'node:test'

import { Agent, ConfigError, tool } from '../index.mjs'
import { callTurn, functionCall, textTurn, toolOutputs, useMock } from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test

const weather = tool({
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
  execute: ({ city }) => `sunny in ${city}`,
})

it('sync, async and throwing tools answer the model; the turn goes on', async (t) => {
  const contexts = []
  const lookup = tool({
    name: 'lookup_ticket',
    parameters: { type: 'object', properties: { id: { type: 'integer' } } },
    execute: async ({ id }, context) => {
      contexts.push(context)
      await new Promise((resolve) => setTimeout(resolve, 10))
      return { id, title: 'Fix the build' }
    },
  })
  const broken = tool({
    name: 'broken',
    execute: () => {
      throw new RangeError('the tool broke')
    },
  })
  const rejecting = tool({
    name: 'rejecting',
    execute: async () => Promise.reject(new Error('async failure')),
  })
  await ctx.mock.push(
    callTurn(
      functionCall('w1', 'get_weather', { city: 'Paris' }),
      functionCall('t1', 'lookup_ticket', { id: 7 }),
      functionCall('b1', 'broken', {}),
      functionCall('r1', 'rejecting', {}),
    ),
    textTurn('all done'),
  )
  const { agent } = await ctx.makeAgent(t, { tools: [weather, lookup, broken, rejecting] }, Agent)
  const thread = agent.startThread()
  const result = await thread.run('use the tools')
  assert.equal(result.finalResponse, 'all done')

  const [first, second] = await ctx.mock.requests()
  const offered = first.body.tools.filter((t) => t.type === 'function').map((t) => t.name)
  for (const name of ['get_weather', 'lookup_ticket', 'broken', 'rejecting']) {
    assert.ok(offered.includes(name), offered.join(','))
  }
  const spec = first.body.tools.find((t) => t.name === 'get_weather')
  assert.equal(spec.description, 'The weather in a city')
  assert.deepEqual(spec.parameters.required, ['city'])

  const outputs = toolOutputs(second)
  assert.equal(outputs.w1, 'sunny in Paris')
  assert.deepEqual(JSON.parse(outputs.t1), { id: 7, title: 'Fix the build' })
  assert.match(outputs.b1, /RangeError: the tool broke/)
  assert.match(outputs.r1, /async failure/)
  assert.deepEqual(contexts, [{ threadId: thread.id, callId: 't1', toolName: 'lookup_ticket' }])

  const calls = result.items.filter((i) => i.type === 'tool_call')
  // Calls run concurrently: items come in the order they finish.
  assert.deepEqual(calls.map((i) => [i.tool, i.status]).sort(), [
    ['broken', 'failed'],
    ['get_weather', 'completed'],
    ['lookup_ticket', 'completed'],
    ['rejecting', 'failed'],
  ])
})

it('concurrent tool calls of many threads are all in flight at once', async (t) => {
  const n = 8
  // A barrier: no call answers until every thread's call has arrived, which
  // only happens if the calls run concurrently. Once all are in, the model
  // replies for the second requests are queued, then the calls answer.
  let arrived = 0
  let release
  const all = new Promise((resolve) => (release = resolve))
  const echo = tool({
    name: 'echo',
    parameters: { type: 'object', properties: { n: { type: 'integer' } } },
    execute: async ({ n: i }) => {
      arrived += 1
      if (arrived === n) {
        await ctx.mock.push(...Array.from({ length: n }, () => textTurn('ok')))
        release()
      }
      await all
      return `n=${i}`
    },
  })
  const { agent } = await ctx.makeAgent(t, { tools: [echo] }, Agent)
  await ctx.mock.push(...Array.from({ length: n }, (_, i) => callTurn(functionCall(`c${i}`, 'echo', { n: i }))))
  const results = await Promise.all(Array.from({ length: n }, () => agent.startThread().run('go')))
  assert.deepEqual(results.map((r) => r.finalResponse), Array(n).fill('ok'))
  const outputs = (await ctx.mock.requests()).flatMap((r) => Object.values(toolOutputs(r)))
  assert.deepEqual(outputs.sort(), Array.from({ length: n }, (_, i) => `n=${i}`).sort())
})

it('tool() and the agent refuse bad definitions', () => {
  assert.throws(() => tool({ name: 'x' }), ConfigError)
  assert.throws(
    () => new Agent({ tools: [tool({ name: 'has space', execute: () => '' })] }),
    ConfigError,
  )
  assert.throws(() => new Agent({ tools: [tool({ name: 'shell_command', execute: () => '' })] }), ConfigError)
})
