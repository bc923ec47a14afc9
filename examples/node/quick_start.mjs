// @ts-check
// Quick start: an agent fixes the failing test of examples/sample-repo.
//
// Offline by default: the model's answers are replayed from the recorded
// cassette examples/demo/cassette.json, while the commands and the patch run
// for real in a scratch copy of the sample repo. With OPENAI_API_KEY set, the
// same code asks the real model.
//
//     node examples/node/quick_start.mjs
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Agent } from 'codeloop'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PROMPT = 'The tests fail (python3 -m unittest). Find the bug, fix it, and run the tests again.'

/** @param {string} work */
function makeAgent(work) {
  if (process.env.OPENAI_API_KEY) {
    return new Agent({ model: 'gpt-5.4', cwd: work, sandbox: 'workspace-write' })
  }
  return new Agent({
    model: 'gpt-5.4',
    provider: 'replay',
    cassette: join(ROOT, 'examples/demo/cassette.json'),
    cwd: work,
    // The replayed commands run unconfined in this scratch copy.
    sandbox: 'danger-full-access',
    ephemeral: true,
  })
}

const work = mkdtempSync(join(tmpdir(), 'codeloop-quick-start-'))
cpSync(join(ROOT, 'examples/sample-repo'), work, { recursive: true })
console.log(`working in ${work}`)

const thread = makeAgent(work).startThread()
for await (const event of thread.runStreamed(PROMPT)) {
  if (event.type === 'item.completed') {
    const item = event.item
    if (item.type === 'command_execution') console.log(`$ ${item.command}  (exit ${item.exit_code})`)
    else if (item.type === 'file_change') {
      console.log('patched:', item.changes.map((c) => basename(c.path)).join(', '))
    } else if (item.type === 'agent_message') console.log(`\n${item.text}`)
  } else if (event.type === 'turn.completed') {
    console.log(`\ntokens: ${event.usage.input_tokens} in, ${event.usage.output_tokens} out`)
  } else if (event.type === 'turn.failed') {
    console.error(`the turn failed: ${event.error.message}`)
    process.exit(1)
  }
}

const tests = spawnSync('python3', ['-m', 'unittest'], { cwd: work, encoding: 'utf8' })
console.log('the tests now:', tests.stderr.trim().split('\n').at(-1))
