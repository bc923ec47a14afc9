// @ts-check
// Many agents at once, in one process, on one event loop.
//
// Each agent gets its own scratch copy of examples/sample-repo, runs its test
// suite and reports. An agent is a cheap object: no process per agent, the
// turns share codeloop's one runtime, and the event loop stays free while
// they run. Offline by default (replays the Python example's cassette
// examples/python/cassettes/many_agents.json: the prompt is the same); with
// OPENAI_API_KEY set, the real model is asked.
//
//     node examples/node/many_threads.mjs [N]
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Agent } from 'codeloop'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CASSETTE = join(ROOT, 'examples/python/cassettes/many_agents.json')
const PROMPT = 'Run the test suite with `python3 -m unittest` and tell me in one line how it went.'

/** @param {number} n @param {string} scratch */
async function check(n, scratch) {
  const work = join(scratch, `checkout-${n}`)
  cpSync(join(ROOT, 'examples/sample-repo'), work, { recursive: true })
  const agent = new Agent({
    model: 'gpt-5.4',
    // Every agent replays the same recorded conversation on its own copy.
    ...(process.env.OPENAI_API_KEY ? {} : { provider: 'replay', cassette: CASSETTE }),
    cwd: work,
    sandbox: 'danger-full-access',
    ephemeral: true,
  })
  const result = await agent.startThread().run(PROMPT)
  const commands = result.items.filter((i) => i.type === 'command_execution')
  return `agent ${String(n).padStart(2)}: ran ${commands.length} command(s): ${result.finalResponse}`
}

const count = Number(process.argv[2] ?? 20)
const scratch = mkdtempSync(join(tmpdir(), 'codeloop-many-'))
try {
  const start = performance.now()
  const reports = await Promise.all(Array.from({ length: count }, (_, n) => check(n, scratch)))
  const elapsed = (performance.now() - start) / 1000
  console.log(reports.join('\n'))
  console.log(`${count} agents, ${elapsed.toFixed(2)} s in all`)
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
