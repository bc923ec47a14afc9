// The shared apply_patch conformance scenarios (shared/conformance), run
// through the agent — the mock model sends each patch as an `apply_patch`
// custom tool call — and through applyPatch(). codeloop applies a patch
// atomically, so for 015_… the expected tree is the input.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import * as test from 'node:test'

import { Agent, PatchError, applyPatch } from '../index.mjs'
import { ROOT, callTurn, customToolCall, tempDir, textTurn, toolOutputs, useMock } from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test

function suiteDir() {
  const beside = join(ROOT, '..', 'shared', 'conformance', 'apply_patch')
  if (existsSync(beside)) return beside
  const shared = process.env.CODELOOP_SHARED_DIR
  if (shared && existsSync(join(shared, 'conformance', 'apply_patch'))) {
    return join(shared, 'conformance', 'apply_patch')
  }
  // A missing suite is a failure, never a skip.
  throw new Error(`the apply_patch conformance suite was not found at ${beside}; set CODELOOP_SHARED_DIR`)
}

const SUITE = suiteDir()
const SCENARIOS = readdirSync(SUITE).filter((n) => existsSync(join(SUITE, n, 'patch.txt'))).sort()
const expectsError = (name) => ['rejects', 'fails', 'failure', 'requires_existing'].some((w) => name.includes(w))

/** `relative path -> bytes | '<dir>'` of a directory. */
function tree(root) {
  const out = {}
  if (!existsSync(root)) return out
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      const rel = relative(root, path).split('\\').join('/')
      if (statSync(path).isDirectory()) {
        out[rel] = '<dir>'
        walk(path)
      } else {
        out[rel] = readFileSync(path).toString('base64')
      }
    }
  }
  walk(root)
  return out
}

function copyTree(source, dest) {
  for (const [rel, node] of Object.entries(tree(source))) {
    const target = join(dest, rel)
    if (node === '<dir>') mkdirSync(target, { recursive: true })
    else {
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, Buffer.from(node, 'base64'))
    }
  }
}

const expectedTree = (name) => tree(join(SUITE, name, name.startsWith('015_') ? 'input' : 'expected'))

it('the whole suite is there', () => {
  assert.ok(SCENARIOS.length >= 20, SCENARIOS.join(','))
})

for (const name of SCENARIOS) {
  it(`${name} through the agent`, async (t) => {
    const workdir = tempDir(t)
    copyTree(join(SUITE, name, 'input'), workdir)
    const patch = readFileSync(join(SUITE, name, 'patch.txt'), 'utf8')
    await ctx.mock.push(callTurn(customToolCall('p1', 'apply_patch', patch)), textTurn('patched'))
    const { agent } = await ctx.makeAgent(t, { sandbox: 'workspace-write', cwd: workdir }, Agent)
    const result = await agent.startThread().run('apply the patch')
    assert.equal(result.finalResponse, 'patched')
    assert.deepEqual(tree(workdir), expectedTree(name))
    const output = toolOutputs((await ctx.mock.requests())[1]).p1
    const changes = result.items.filter((i) => i.type === 'file_change')
    if (expectsError(name)) {
      assert.ok(!output.startsWith('Success.'), output)
      assert.ok(changes.every((i) => i.status === 'failed'), JSON.stringify(changes))
    } else {
      assert.match(output, /^Success\. Updated the following files:/)
      assert.deepEqual(changes.map((i) => i.status), ['completed'])
    }
  })

  it(`${name} through applyPatch()`, (t) => {
    const workdir = tempDir(t)
    copyTree(join(SUITE, name, 'input'), workdir)
    const patch = readFileSync(join(SUITE, name, 'patch.txt'), 'utf8')
    if (expectsError(name)) {
      assert.throws(() => applyPatch(patch, workdir), PatchError)
    } else {
      const applied = applyPatch(patch, workdir)
      assert.match(applied.summary, /^Success\./)
      assert.ok(applied.changes.length > 0)
    }
    assert.deepEqual(tree(workdir), expectedTree(name))
  })
}
