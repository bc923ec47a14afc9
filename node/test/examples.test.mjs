// The Node examples run offline (replayed cassettes) and keep working.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { it } from 'node:test'

import { ROOT, tempDir } from './mockmodel.mjs'

function runExample(t, name, ...args) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OPENAI_') && !k.startsWith('CODELOOP_')),
  )
  const done = spawnSync(process.execPath, [join(ROOT, 'examples/node', name), ...args], {
    cwd: tempDir(t),
    env,
    encoding: 'utf8',
    timeout: 120_000,
  })
  assert.equal(done.status, 0, done.stderr)
  return done.stdout.trim().split('\n')
}

it('quick start fixes the sample repo', (t) => {
  const lines = runExample(t, 'quick_start.mjs')
  assert.ok(lines.some((l) => l.startsWith('patched: stats.py')), lines.join('\n'))
  assert.equal(lines.at(-1), 'the tests now: OK')
})

it('custom tool', (t) => {
  const lines = runExample(t, 'custom_tool.mjs')
  assert.ok(lines.includes('called lookup_ticket({"ticket_id":"CL-7"}) -> completed'), lines.join('\n'))
  assert.match(lines.at(-1), /^answer: CL-7 asks to fix median\(\)/)
})

it('many threads', (t) => {
  const lines = runExample(t, 'many_threads.mjs', '5')
  const reports = lines.filter((l) => l.startsWith('agent '))
  assert.equal(reports.length, 5)
  assert.ok(reports.every((l) => l.includes('ran 1 command(s): The suite fails')), reports.join('\n'))
  assert.match(lines.at(-1), /^5 agents, /)
})

it('structured review: hooks see the command, the output is parsed JSON', (t) => {
  const lines = runExample(t, 'structured_review.mjs')
  assert.deepEqual(lines.slice(0, 3), [
    '$ python3 -m unittest',
    'verdict: fail',
    'failing: test_median_even',
  ])
  assert.match(lines.at(-1), /^suspect: median\(\)/)
})
