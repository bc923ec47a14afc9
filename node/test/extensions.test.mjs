// Extensions through the Node API: MCP servers (a real one from npm), hooks
// chained by core (command hooks and JavaScript callbacks, with matchers),
// AGENTS.md and instruction files reaching the model, config overrides.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as test from 'node:test'

import { Agent, ConfigError, HostCallbackError } from '../index.mjs'
import {
  ROOT,
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

const EVERYTHING = join(ROOT, 'tests/mcp/node_modules/.bin/mcp-server-everything')

it('an MCP server over stdio: its tools reach the model and a call is an mcp_tool_call item', async (t) => {
  // A missing server is a failure, never a skip.
  assert.ok(existsSync(EVERYTHING), `${EVERYTHING} is missing: run \`make mcp-deps\``)
  await ctx.mock.push(
    callTurn(
      functionCall('c1', 'mcp__everything__echo', { message: 'hi there' }),
      functionCall('c2', 'mcp__everything__get-env', {}),
    ),
    textTurn('echoed'),
  )
  const { agent } = await ctx.makeAgent(
    t,
    {
      approvalPolicy: 'never',
      mcpServers: {
        // camelCase option names; the server name and env keys stay as given.
        everything: {
          command: EVERYTHING,
          args: ['stdio'],
          env: { CodeLoop_Mixed_Case: 'kept-verbatim' },
          startupTimeoutSec: 60,
          enabledTools: ['echo', 'get-env'],
          required: true,
        },
      },
    },
    Agent,
  )
  const events = []
  for await (const event of agent.startThread().runStreamed('echo something')) events.push(event)
  assert.equal(events.at(-1).type, 'turn.completed', JSON.stringify(events.at(-1)))
  const items = events
    .filter((e) => e.type === 'item.completed' && e.item.type === 'mcp_tool_call')
    .map((e) => e.item)
  assert.equal(items.length, 2, JSON.stringify(events))
  const echo = items.find((i) => i.tool === 'echo')
  assert.equal(echo.server, 'everything')
  assert.equal(echo.status, 'completed')
  assert.deepEqual(echo.arguments, { message: 'hi there' })
  assert.equal(echo.result.content[0].text, 'Echo: hi there')
  assert.ok(events.some((e) => e.type === 'item.started' && e.item.type === 'mcp_tool_call'))

  const [first, second] = await ctx.mock.requests()
  const mcpTools = first.body.tools.map((tool) => tool.name).filter((n) => n?.startsWith('mcp__'))
  assert.deepEqual(mcpTools.sort(), ['mcp__everything__echo', 'mcp__everything__get-env'])
  const outputs = toolOutputs(second)
  assert.match(outputs.c1, /Echo: hi there/)
  assert.match(outputs.c2, /CodeLoop_Mixed_Case/)
  assert.match(outputs.c2, /kept-verbatim/)
})

/** Whether process `pid` carries `CODELOOP_MCP_MARKER=marker` in its
 * environment (a dead or zombie process carries nothing). */
function hasMarker(pid, marker) {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`CODELOOP_MCP_MARKER=${marker}`)
  } catch {
    return false
  }
}

const pidWithMarker = (marker) =>
  readdirSync('/proc').find((entry) => /^\d+$/.test(entry) && hasMarker(entry, marker))

it('agent.close() shuts the MCP servers down while a thread lives; closing again is fine', async (t) => {
  assert.ok(existsSync(EVERYTHING), `${EVERYTHING} is missing: run \`make mcp-deps\``)
  const marker = `close-${process.pid}-${Date.now()}`
  await ctx.mock.push(textTurn('up'))
  const { agent } = await ctx.makeAgent(
    t,
    {
      mcpServers: {
        everything: {
          command: EVERYTHING,
          args: ['stdio'],
          env: { CODELOOP_MCP_MARKER: marker },
          startupTimeoutSec: 60,
          required: true,
        },
      },
    },
    Agent,
  )
  const thread = agent.startThread()
  await thread.run('start')
  const pid = pidWithMarker(marker)
  assert.ok(pid, 'the server runs')

  await agent.close()
  // close() does not wait for the process to exit: poll, yielding to the
  // event loop, until a deadline.
  const deadline = Date.now() + 10_000
  while (hasMarker(pid, marker) && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.ok(!hasMarker(pid, marker), `server ${pid} outlived close()`)
  // The thread is still there; its next run says why it cannot go on.
  await assert.rejects(thread.run('again'), (err) => {
    assert.ok(err instanceof ConfigError, String(err))
    assert.match(err.message, /closed/)
    return true
  })
  await agent.close() // idempotent
  assert.equal((await ctx.mock.requests()).length, 1)
})

it('a required MCP server that cannot start fails the run with ConfigError', async (t) => {
  const { agent } = await ctx.makeAgent(
    t,
    { mcpServers: { broken: { command: 'codeloop-no-such-mcp-server', required: true } } },
    Agent,
  )
  await assert.rejects(agent.startThread().run('x'), (err) => {
    assert.ok(err instanceof ConfigError, String(err))
    assert.match(err.message, /broken/)
    return true
  })
  assert.equal((await ctx.mock.requests()).length, 0)
})

it('core chains a command hook and callbacks with matchers; a deny stops the rest', async (t) => {
  const dir = tempDir(t)
  const log = join(dir, 'command-hook.jsonl')
  const seen = []
  const guard = (event) => {
    seen.push(['guard', event.tool_input.command])
    if (event.tool_input.command.includes('rm ')) return { decision: 'deny', reason: 'no deleting' }
    if (event.tool_input.command.includes('old.txt')) {
      return { updatedInput: { command: event.tool_input.command.replace('old.txt', 'new.txt') } }
    }
    return undefined
  }
  const audit = async (event) => {
    seen.push(['audit', event.tool_input.command])
    assert.equal(event.callback_id, undefined, 'the callback sees the protocol event')
  }
  const neverMatches = () => {
    seen.push(['never'])
  }
  const after = []
  await ctx.mock.push(
    callTurn(shellCall('c1', 'rm keep.txt'), shellCall('c2', 'touch old.txt')),
    textTurn('done'),
  )
  const { agent, workdir } = await ctx.makeAgent(
    t,
    {
      sandbox: 'danger-full-access',
      hooks: {
        PreToolUse: [
          {
            matcher: 'Bash|shell.*',
            hooks: [{ type: 'command', command: `cat >> '${log}'; echo >> '${log}'`, timeout: 30 }, guard],
          },
          audit,
          { matcher: 'apply_patch', hooks: [neverMatches] },
        ],
        // The simple form still works next to the others.
        PostToolUse: (event) => {
          after.push(event.tool_input.command)
          return { additionalContext: 'AUDITED' }
        },
      },
    },
    Agent,
  )
  writeFileSync(join(workdir, 'keep.txt'), 'keep')
  const thread = agent.startThread()
  await thread.run('clean up')

  assert.ok(existsSync(join(workdir, 'keep.txt')), 'the deny held')
  assert.ok(existsSync(join(workdir, 'new.txt')), 'updatedInput reached the tool')
  assert.ok(!existsSync(join(workdir, 'old.txt')))
  // The command hook ran first, for both calls, with the original input.
  const logged = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  assert.deepEqual(logged.map((e) => e.tool_input.command).sort(), ['rm keep.txt', 'touch old.txt'])
  assert.equal(logged[0].session_id, thread.id)
  // After the deny nothing more ran for c1; audit saw c2's rewritten input.
  assert.deepEqual(
    seen.filter(([, c]) => c?.startsWith('rm')),
    [['guard', 'rm keep.txt']],
  )
  assert.ok(seen.some(([who, c]) => who === 'audit' && c === 'touch new.txt'), JSON.stringify(seen))
  assert.ok(!seen.some(([who]) => who === 'never'))
  assert.deepEqual(after, ['touch new.txt'])
  const outputs = toolOutputs((await ctx.mock.requests())[1])
  assert.match(outputs.c1, /no deleting/)
  assert.match(outputs.c2, /AUDITED/)
})

it('a command hook that exits 2 denies, and the callbacks after it do not run', async (t) => {
  const later = []
  await ctx.mock.push(callTurn(shellCall('c1', 'touch blocked.txt')), textTurn('ok'))
  const { agent, workdir } = await ctx.makeAgent(
    t,
    {
      sandbox: 'danger-full-access',
      hooks: {
        PreToolUse: [
          { matcher: '', hooks: [{ type: 'command', command: 'echo "policy says no" >&2; exit 2' }] },
          (event) => {
            later.push(event)
          },
        ],
      },
    },
    Agent,
  )
  await agent.startThread().run('try')
  assert.ok(!existsSync(join(workdir, 'blocked.txt')))
  assert.deepEqual(later, [])
  assert.match(toolOutputs((await ctx.mock.requests())[1]).c1, /policy says no/)
})

it('a callback answering an unknown decision fails the turn with a message from core', async (t) => {
  await ctx.mock.push(callTurn(shellCall('c1', 'echo hi')))
  const { agent } = await ctx.makeAgent(
    t,
    { sandbox: 'danger-full-access', hooks: { PreToolUse: [{ matcher: '*', hooks: [() => ({ decision: 'block' })] }] } },
    Agent,
  )
  await assert.rejects(agent.startThread().run('go'), (err) => {
    assert.ok(err instanceof HostCallbackError)
    assert.match(err.message, /PreToolUse\[0\]\.hooks\[0\]/)
    assert.match(err.message, /block/)
    return true
  })
})

it('bad hook entries are refused when the agent is made', () => {
  assert.throws(() => new Agent({ hooks: { PreToolUse: [42] } }), ConfigError)
  assert.throws(() => new Agent({ hooks: { PreToolUse: [{ matcher: '(', hooks: [() => {}] }] } }), (err) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /regex/)
    return true
  })
  assert.throws(
    () => new Agent({ hooks: { Stop: [{ matcher: '', hooks: [{ type: 'command' }] }] } }),
    ConfigError,
  )
})

it('AGENTS.md of the project and extra instruction files reach the model', async (t) => {
  const repo = tempDir(t)
  mkdirSync(join(repo, '.git'))
  mkdirSync(join(repo, 'pkg'))
  writeFileSync(join(repo, 'AGENTS.md'), 'ROOT-RULE: use tabs')
  writeFileSync(join(repo, 'pkg', 'AGENTS.md'), 'PKG-RULE: no globals')
  const extra = join(tempDir(t), 'extra.md')
  writeFileSync(extra, 'EXTRA-RULE: be brief')
  await ctx.mock.push(textTurn('ok'), textTurn('ok'))
  const { agent } = await ctx.makeAgent(
    t,
    { cwd: join(repo, 'pkg'), instructionFiles: [extra] },
    Agent,
  )
  await agent.startThread().run('hi')
  const { agent: off } = await ctx.makeAgent(t, { cwd: join(repo, 'pkg'), projectDocs: false }, Agent)
  await off.startThread().run('hi')

  const [withDocs, withoutDocs] = await ctx.mock.requests()
  const docs = messageTexts(withDocs).find((m) => m.startsWith('# AGENTS.md instructions for'))
  assert.ok(docs, JSON.stringify(messageTexts(withDocs)))
  assert.ok(docs.indexOf('ROOT-RULE') < docs.indexOf('PKG-RULE'), docs)
  assert.match(JSON.stringify(withDocs.body.input), /EXTRA-RULE: be brief/)
  assert.doesNotMatch(JSON.stringify(withoutDocs.body.input), /ROOT-RULE|PKG-RULE/)
})

it('config files of codeloopHome load, configOverrides win over them, and options over both', async (t) => {
  const home = tempDir(t)
  writeFileSync(join(home, 'config.toml'), 'model = "model-from-config"\ndeveloper_instructions = "FROM-CONFIG"\n')
  const { agent } = await ctx.makeAgent(t, { codeloopHome: home, model: undefined }, Agent)
  assert.equal(agent.model, 'model-from-config')
  const { agent: overridden } = await ctx.makeAgent(
    t,
    { codeloopHome: home, model: undefined, configOverrides: { model: 'model-from-override' } },
    Agent,
  )
  assert.equal(overridden.model, 'model-from-override')
  const { agent: explicit } = await ctx.makeAgent(
    t,
    { codeloopHome: home, configOverrides: { model: 'model-from-override' } },
    Agent,
  )
  assert.equal(explicit.model, 'mock-model')
  const { agent: noFiles } = await ctx.makeAgent(
    t,
    { codeloopHome: home, model: undefined, loadConfigFiles: false },
    Agent,
  )
  assert.notEqual(noFiles.model, 'model-from-config')
  assert.deepEqual(agent.configWarnings, [])
})
