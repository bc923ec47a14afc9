// The event loop is never blocked, and an idle agent never keeps Node alive.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as test from 'node:test'

import { Agent, tool } from '../index.mjs'
import { callTurn, functionCall, shellCall, textTurn, useMock } from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test
const INDEX = fileURLToPath(new URL('../index.js', import.meta.url))

it('a timer keeps firing at its interval during a turn that runs `sleep 2`', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'sleep 2')), textTurn('slept'))
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access' }, Agent)
  const INTERVAL = 50
  let ticks = 0
  let commandStarted = 0
  let commandEnded = 0
  let ticksDuringCommand = 0
  let maxGap = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks += 1
  }, INTERVAL)
  try {
    for await (const event of agent.startThread().runStreamed('sleep')) {
      if (event.item?.type !== 'command_execution') continue
      if (event.type === 'item.started') {
        commandStarted = performance.now()
        ticksDuringCommand = ticks
      } else if (event.type === 'item.completed') {
        commandEnded = performance.now()
        ticksDuringCommand = ticks - ticksDuringCommand
      }
    }
  } finally {
    clearInterval(timer)
  }
  const elapsed = commandEnded - commandStarted
  assert.ok(elapsed >= 1900, `the command ran ${elapsed} ms`)
  // 2 s at 50 ms is 40 ticks; allow for a loaded CI machine, but a blocked
  // loop would give 0 or 1.
  const expected = Math.floor(elapsed / INTERVAL)
  assert.ok(ticksDuringCommand >= expected * 0.6, `${ticksDuringCommand} ticks of ${expected}`)
  assert.ok(maxGap < 1000, `the loop stalled for ${maxGap} ms`)
})

it('a slow async tool does not block other threads or timers', async (t) => {
  let ticks = 0
  const slow = tool({
    name: 'slow',
    execute: async () => {
      const before = ticks
      await new Promise((resolve) => setTimeout(resolve, 300))
      return `ticks during the tool: ${ticks - before}`
    },
  })
  await ctx.mock.push(callTurn(functionCall('s1', 'slow', {})), textTurn('ok'))
  const { agent } = await ctx.makeAgent(t, { tools: [slow] }, Agent)
  const timer = setInterval(() => (ticks += 1), 20)
  try {
    const result = await agent.startThread().run('go')
    const output = result.items.find((i) => i.type === 'tool_call').output
    const during = Number(output.split(': ')[1])
    assert.ok(during >= 5, output)
  } finally {
    clearInterval(timer)
  }
})

/** Run `source` in a child Node and wait for it to exit by itself. */
function runChild(source, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the child did not exit within ${timeoutMs} ms: ${out}`))
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

it('an idle agent with callbacks does not keep the process alive', async () => {
  const source = `
    const { Agent, tool } = require(${JSON.stringify(INDEX)})
    const agent = new Agent({
      ephemeral: true,
      apiKey: 'unused',
      tools: [tool({ name: 't', execute: () => 'x' })],
      canUseTool: () => true,
      hooks: { PreToolUse: () => undefined },
    })
    globalThis.keep = [agent, agent.startThread(), agent.startThread()]
    console.log('created')
  `
  const { code, out } = await runChild(source)
  assert.equal(code, 0, out)
  assert.match(out, /created/)
})

it('after a finished turn the process exits by itself', async () => {
  await ctx.mock.push(textTurn('bye'))
  const source = `
    const { Agent, tool } = require(${JSON.stringify(INDEX)})
    const agent = new Agent({
      ephemeral: true, apiKey: 'k', baseUrl: ${JSON.stringify(ctx.mock.baseUrl)},
      requestMaxRetries: 0, streamMaxRetries: 0,
      tools: [tool({ name: 't', execute: () => 'x' })],
    })
    agent.startThread().run('hi').then((r) => console.log('answer:', r.finalResponse))
  `
  const { code, out } = await runChild(source)
  assert.equal(code, 0, out)
  assert.match(out, /answer: bye/)
})
