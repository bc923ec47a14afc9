// Node SDK benchmarks (make bench-node; not part of `make test`), all
// against the mock model server on loopback:
//   - import to first event: a fresh `node` process, from its start to the
//     first event of a turn (median of 5);
//   - one turn with one shell call (`echo hi`), median of 20;
//   - events per second into JavaScript from 100,000 text deltas;
//   - peak RSS of a process holding 1,000 threads that each ran a turn
//     and sit idle, against a bare `node` process as the baseline.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { Agent } from '../../node/index.mjs'
import { MockModel, callTurn, completed, created, message, shellCall, sse, textDelta, textTurn } from '../../node/test/mockmodel.mjs'

const { values } = parseArgs({ options: { mock: { type: 'string' } } })
if (values.mock) process.env.CODELOOP_MOCK_BIN = values.mock
const INDEX = fileURLToPath(new URL('../../node/index.js', import.meta.url))

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const mock = await MockModel.start()
const options = {
  model: 'mock-model',
  baseUrl: mock.baseUrl,
  apiKey: 'bench',
  ephemeral: true,
  sandbox: 'danger-full-access',
}

// -- import to first event, in a fresh process each time
const firstEvent = []
for (let i = 0; i < 5; i++) {
  await mock.push(textTurn('hi'))
  const source = `
    const { Agent } = require(${JSON.stringify(INDEX)})
    const agent = new Agent(${JSON.stringify(options)})
    const run = agent.startThread().runStreamed('hi')
    run.next().then(() => {
      console.log(performance.now())
      return run.return()
    })
  `
  const out = spawnSync(process.execPath, ['-e', source], { encoding: 'utf8' })
  firstEvent.push(Number(out.stdout.trim()))
  await mock.reset()
}

// -- one turn with one shell call
const agent = new Agent(options)
const turns = []
for (let i = 0; i < 20; i++) {
  await mock.push(callTurn(shellCall('c1', 'echo hi')), textTurn('done'))
  const start = performance.now()
  await agent.startThread().run('run echo')
  turns.push(performance.now() - start)
}
await mock.reset()

// -- events per second from 100,000 text deltas
const DELTAS = 100_000
const deltas = Array.from({ length: DELTAS }, () => textDelta('x'))
await mock.push(sse([created(), ...deltas, message('x'.repeat(DELTAS)), completed()]))
let count = 0
let first = 0
for await (const event of agent.startThread().runStreamed('stream')) {
  if (event.type === 'item.delta') {
    if (count === 0) first = performance.now()
    count += 1
  }
}
const eventsPerSecond = count / ((performance.now() - first) / 1000)
await mock.reset()

// -- peak RSS of 1,000 idle threads, in a child process
const THREADS = 1000
await mock.push(...Array.from({ length: THREADS }, () => textTurn('ok')))
const rssSource = `
  const { Agent } = require(${JSON.stringify(INDEX)})
  const agent = new Agent(${JSON.stringify(options)})
  const threads = Array.from({ length: ${THREADS} }, () => agent.startThread())
  Promise.all(threads.map((t) => t.run('hi'))).then(() => {
    globalThis.keep = threads
    console.log(process.resourceUsage().maxRSS)
  })
`
const rss = spawnSync(process.execPath, ['-e', rssSource], { encoding: 'utf8' })
const bare = spawnSync(process.execPath, ['-e', 'console.log(process.resourceUsage().maxRSS)'], {
  encoding: 'utf8',
})
mock.close()

const mb = (kb) => (Number(kb) / 1024).toFixed(1)
console.log(`import to first event (median of 5):      ${median(firstEvent).toFixed(1)} ms`)
console.log(`one turn with one shell call (median/20):  ${median(turns).toFixed(1)} ms`)
console.log(`text deltas into JS:                       ${Math.round(eventsPerSecond).toLocaleString('en')} events/s (${count} events)`)
console.log(`peak RSS, ${THREADS} idle threads:           ${mb(rss.stdout.trim())} MB (bare node: ${mb(bare.stdout.trim())} MB)`)
if (rss.status !== 0) console.error(rss.stderr)
