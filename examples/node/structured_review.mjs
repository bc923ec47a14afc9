// @ts-check
// Structured output and hooks: the agent reviews examples/sample-repo and
// answers with JSON that core checks against a schema (`result.output` is
// the parsed value). Hooks with matchers watch the commands it runs and
// keep it from editing anything.
//
// Offline by default: replays examples/node/cassettes/structured_review.json
// while the commands run for real in a scratch copy of the sample repo; with
// OPENAI_API_KEY set, the real model is asked.
//
//     node examples/node/structured_review.mjs
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Agent } from 'codeloop'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CASSETTE = join(ROOT, 'examples/node/cassettes/structured_review.json')

const REVIEW = {
  type: 'object',
  properties: {
    verdict: { type: 'string', enum: ['pass', 'fail'] },
    failing_tests: { type: 'array', items: { type: 'string' } },
    suspect: { type: 'string', description: 'The function most likely at fault.' },
  },
  required: ['verdict', 'failing_tests', 'suspect'],
  additionalProperties: false,
}

function modelOptions() {
  // examples/node/record.sh: a scripted mock model answers (OPENAI_BASE_URL)
  // and the cassette is written.
  if (process.env.CODELOOP_RECORD) return { record: CASSETTE }
  if (process.env.OPENAI_API_KEY) return {}
  return { provider: 'replay', cassette: CASSETTE }
}

const work = mkdtempSync(join(tmpdir(), 'codeloop-review-'))
cpSync(join(ROOT, 'examples/sample-repo'), work, { recursive: true })

const agent = new Agent({
  model: 'gpt-5.4',
  ...modelOptions(),
  cwd: work,
  // A scratch copy: the commands run unconfined; the hook below keeps
  // the files as they are.
  sandbox: 'danger-full-access',
  ephemeral: true,
  // Only these options: no config file, AGENTS.md or skill of this machine.
  loadConfigFiles: false,
  projectDocs: false,
  skills: false,
  outputSchema: REVIEW,
  hooks: {
    PreToolUse: [
      {
        matcher: 'Bash',
        hooks: [
          (event) => {
            console.log(`$ ${/** @type {{command: string}} */ (event.tool_input).command}`)
          },
        ],
      },
      {
        matcher: 'apply_patch',
        hooks: [() => ({ decision: 'deny', reason: 'this is a review: do not edit files' })],
      },
    ],
  },
})

const result = await agent
  .startThread()
  .run('Run the tests (python3 -m unittest) and review what fails. Do not change any file.')
const review = /** @type {{verdict: string, failing_tests: string[], suspect: string}} */ (result.output)
console.log(`verdict: ${review.verdict}`)
console.log(`failing: ${review.failing_tests.join(', ')}`)
console.log(`suspect: ${review.suspect}`)
