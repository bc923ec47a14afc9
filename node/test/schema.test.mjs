// Events and items agree with the protocol's JSON Schema
// (core/protocol.schema.json, drift-tested against the Rust types), and
// every ErrorCode maps to its CodeloopError class.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import * as test from 'node:test'

import * as codeloop from '../index.mjs'
import { Agent, applyPatch, errorForCode, protocolSchema, tool } from '../index.mjs'
import { ROOT, callTurn, customToolCall, functionCall, shellCall, textTurn, useMock } from './mockmodel.mjs'

const ctx = await useMock(test)
const { it } = test

const SCHEMA = JSON.parse(readFileSync(join(ROOT, 'core/protocol.schema.json'), 'utf8'))
const DEFS = SCHEMA.$defs

/** Validation errors of `value` against `schema` (the keywords the protocol
 * schema uses: $ref, oneOf, anyOf, type, const, enum, properties, required,
 * items, additionalProperties, minimum). */
function validate(value, schema, path = '$') {
  if (schema === true || schema === undefined) return []
  if (schema.$ref) return validate(value, DEFS[schema.$ref.replace('#/$defs/', '')], path)
  const errors = []
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((s) => validate(value, s, path).length === 0)
    if (matching.length !== 1) errors.push(`${path}: ${matching.length} oneOf branches match`)
  }
  if (schema.anyOf && !schema.anyOf.some((s) => validate(value, s, path).length === 0)) {
    errors.push(`${path}: no anyOf branch matches`)
  }
  if (schema.const !== undefined && value !== schema.const) errors.push(`${path}: not ${schema.const}`)
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: not in enum`)
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
    const ok = types.some((t) =>
      t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'))
    if (!ok) return [`${path}: ${actual} is not ${types.join('|')}`]
  }
  if (schema.minimum !== undefined && typeof value === 'number' && value < schema.minimum) {
    errors.push(`${path}: below ${schema.minimum}`)
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const key of schema.required ?? []) {
      if (!(key in value)) errors.push(`${path}: missing ${key}`)
    }
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (key in value) errors.push(...validate(value[key], sub, `${path}.${key}`))
    }
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(value)) {
        if (!(key in (schema.properties ?? {}))) errors.push(`${path}: unexpected ${key}`)
      }
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => errors.push(...validate(v, schema.items, `${path}[${i}]`)))
  }
  return errors
}

it('the addon serves the committed schema', () => {
  assert.deepEqual(protocolSchema(), SCHEMA)
})

it('the validator rejects events that break the schema', () => {
  assert.deepEqual(validate({ type: 'turn.started' }, DEFS.ThreadEvent), [])
  assert.notDeepEqual(validate({ type: 'turn.completed' }, DEFS.ThreadEvent), [])
  assert.notDeepEqual(validate({ type: 'no.such.event' }, DEFS.ThreadEvent), [])
  assert.notDeepEqual(validate({ type: 'item.completed', item: { id: 'x', type: 'agent_message' } }, DEFS.ThreadEvent), [])
})

it('every event of a rich turn matches ThreadEvent', async (t) => {
  const patch = '*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n'
  await ctx.mock.push(
    callTurn(
      shellCall('c1', 'echo hi'),
      customToolCall('p1', 'apply_patch', patch),
      functionCall('u1', 'update_plan', { plan: [{ step: 'one', status: 'in_progress' }] }),
      functionCall('h1', 'host_echo', { x: 1 }),
      functionCall('f1', 'host_fail', {}),
    ),
    textTurn('all done'),
  )
  const tools = [
    tool({ name: 'host_echo', execute: (args) => args }),
    tool({ name: 'host_fail', execute: () => { throw new Error('nope') } }),
  ]
  const { agent } = await ctx.makeAgent(t, { sandbox: 'danger-full-access', tools }, Agent)
  const events = []
  for await (const event of agent.startThread().runStreamed('do everything')) events.push(event)
  const types = new Set(events.map((e) => e.type))
  for (const type of ['thread.started', 'turn.started', 'item.started', 'item.completed', 'item.delta', 'turn.completed']) {
    assert.ok(types.has(type), `no ${type} in ${[...types]}`)
  }
  const itemTypes = new Set(events.filter((e) => e.item).map((e) => e.item.type))
  for (const type of ['command_execution', 'file_change', 'todo_list', 'tool_call', 'agent_message']) {
    assert.ok(itemTypes.has(type), `no ${type} item in ${[...itemTypes]}`)
  }
  for (const event of events) {
    assert.deepEqual(validate(event, DEFS.ThreadEvent), [], JSON.stringify(event))
  }
})

it('a failed turn event and the run result match the schema', async (t) => {
  await ctx.mock.push({ kind: 'http', status: 400, body: { error: { message: 'bad' } } })
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  const events = []
  for await (const event of agent.startThread().runStreamed('x')) events.push(event)
  assert.deepEqual(validate(events.at(-1), DEFS.ThreadEvent), [])
  await ctx.mock.push(textTurn('ok'))
  const result = await agent.startThread().run('y')
  assert.deepEqual(validate(result.usage, DEFS.Usage), [])
  result.items.forEach((item) => assert.deepEqual(validate(item, DEFS.ThreadItem), []))
})

it('every ErrorCode maps to its CodeloopError subclass', () => {
  const expected = {
    model_api: codeloop.APIError,
    unauthorized: codeloop.AuthenticationError,
    context_window_exceeded: codeloop.ContextWindowError,
    quota_exceeded: codeloop.QuotaExceededError,
    stream: codeloop.StreamError,
    replay: codeloop.ReplayError,
    interrupted: codeloop.TurnInterruptedError,
    budget_exceeded: codeloop.BudgetExceededError,
    sandbox: codeloop.SandboxError,
    config: codeloop.ConfigError,
    host: codeloop.HostCallbackError,
    busy: codeloop.BusyError,
    output_invalid: codeloop.OutputInvalidError,
    no_active_turn: codeloop.NoActiveTurnError,
    io: codeloop.LocalIOError,
    internal: codeloop.InternalError,
  }
  const codes = DEFS.ErrorCode.oneOf.map((s) => s.const)
  assert.deepEqual(codes.slice().sort(), Object.keys(expected).sort())
  for (const code of codes) {
    const err = errorForCode(code, 'something happened')
    assert.ok(err instanceof expected[code], code)
    assert.ok(err instanceof codeloop.CodeloopError && err instanceof Error)
    assert.equal(err.code, code)
    assert.equal(err.name, expected[code].name)
  }
  assert.throws(() => errorForCode('no_such_code', 'x'), /unknown error code/)
  // The validation messages survive the trip through a turn.failed event.
  const invalid = errorForCode('output_invalid', 'the final answer does not match the output schema: a; b')
  assert.deepEqual(invalid.errors, ['a', 'b'])
})

it('an HTTP 401 is an AuthenticationError', async (t) => {
  await ctx.mock.push({ kind: 'http', status: 401, body: { error: { message: 'bad key' } } })
  const { agent } = await ctx.makeAgent(t, {}, Agent)
  await assert.rejects(agent.startThread().run('x'), codeloop.AuthenticationError)
})

it('applyPatch errors are PatchError', (t) => {
  assert.throws(() => applyPatch('not a patch', ROOT), (err) => {
    assert.ok(err instanceof codeloop.PatchError && err instanceof codeloop.CodeloopError)
    assert.equal(err.treeUntouched, true)
    return true
  })
})

// ------------------------------------------------------------------ the typings against the schema

/** The member names of each interface / the string literals of each type
 * alias declared in index.d.ts, read with the TypeScript compiler. */
function declarations() {
  const ts = createRequire(import.meta.url)('typescript')
  const file = join(ROOT, 'node/index.d.ts')
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const interfaces = {}
  const literals = {}
  const collectLiterals = (node, out) => {
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) out.push(node.literal.text)
    ts.forEachChild(node, (child) => collectLiterals(child, out))
  }
  // `type: '...'` members of each alias (event and item unions).
  const typeTags = {}
  const collectTags = (node, out) => {
    if (ts.isPropertySignature(node) && node.name.getText() === 'type' && node.type) {
      collectLiterals(node.type, out)
    }
    if (ts.isTypeReferenceNode(node)) {
      const target = interfaces[node.typeName.getText()]
      if (target?.tags) out.push(...target.tags)
    }
    ts.forEachChild(node, (child) => collectTags(child, out))
  }
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement)) {
      const tags = []
      collectTags(statement, tags)
      interfaces[statement.name.text] = {
        members: statement.members.map((m) => m.name?.getText()).filter(Boolean),
        tags,
      }
    }
  }
  for (const statement of source.statements) {
    if (ts.isTypeAliasDeclaration(statement)) {
      const out = []
      collectLiterals(statement.type, out)
      literals[statement.name.text] = out
      const tags = []
      collectTags(statement.type, tags)
      typeTags[statement.name.text] = tags
    }
  }
  return { interfaces, literals, typeTags }
}

const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
const sorted = (list) => [...new Set(list)].sort()
/** The property names of a schema object definition (camelCase). */
const schemaProps = (def, except = []) =>
  sorted(Object.keys(DEFS[def].properties).filter((k) => !except.includes(k)).map(camel))

it('index.d.ts declares every option, run option, error code, event and item of the schema', () => {
  const { interfaces, literals, typeTags } = declarations()
  const members = (name, except = []) =>
    sorted(interfaces[name].members.filter((m) => !except.includes(m)))
  // `hostTools` is `tools` here (functions, not specs); the callbacks are ours.
  assert.deepEqual(members('AgentOptions', ['tools', 'canUseTool']), schemaProps('AgentOptions', ['host_tools']))
  assert.deepEqual(members('RunOptions', ['signal']), schemaProps('RunOptions'))
  assert.deepEqual(members('McpServer'), schemaProps('McpServerConfig'))
  assert.deepEqual(members('ModelPrice'), schemaProps('ModelPrice'))
  assert.deepEqual(members('Compaction'), sorted(Object.keys(DEFS.Compaction.properties)))
  assert.deepEqual(
    sorted(members('HookOutcome').filter((m) => !m.includes('_'))),
    schemaProps('HookOutcome'),
  )
  assert.deepEqual(sorted(literals.ErrorCode), sorted(DEFS.ErrorCode.oneOf.map((s) => s.const)))
  const consts = (def) => sorted(DEFS[def].oneOf.map((s) => s.properties.type.const))
  assert.deepEqual(sorted(typeTags.ThreadEvent), consts('ThreadEvent'))
  assert.deepEqual(sorted(typeTags.ThreadItem), consts('ThreadItem'))
})

it('a thread.compacted event matches the schema', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'echo hi')), textTurn('SUMMARY'), textTurn('done'))
  const { agent } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', autoCompactTokenLimit: 100 },
    Agent,
  )
  const events = []
  for await (const event of agent.startThread().runStreamed('x')) events.push(event)
  const compacted = events.find((e) => e.type === 'thread.compacted')
  assert.ok(compacted, JSON.stringify(events.map((e) => e.type)))
  for (const event of events) assert.deepEqual(validate(event, DEFS.ThreadEvent), [], JSON.stringify(event))
})
