// @ts-check
// A tool written in JavaScript, called by the agent in this process.
//
// Offline by default: replays examples/python/cassettes/custom_tool.json
// (the Python example's recorded conversation: the prompts are the same);
// with OPENAI_API_KEY set, the real model is asked.
//
//     node examples/node/custom_tool.mjs
import { fileURLToPath } from 'node:url'

import { Agent, tool } from 'codeloop'

const CASSETTE = fileURLToPath(new URL('../python/cassettes/custom_tool.json', import.meta.url))

/** @type {Record<string, {title: string, reporter: string, body: string}>} */
const TICKETS = {
  'CL-7': {
    title: 'median() is wrong for an even number of values',
    reporter: 'dana',
    body: 'median([1, 2, 3, 4]) returns 3; it should return 2.5.',
  },
}

const lookupTicket = tool({
  name: 'lookup_ticket',
  description: 'Fetch a ticket from the issue tracker.',
  parameters: {
    type: 'object',
    properties: {
      ticket_id: { type: 'string', description: 'The ticket key, like "CL-7".' },
      include_body: { type: 'boolean', description: "Whether to include the ticket's description." },
    },
    required: ['ticket_id'],
  },
  /** @param {{ticket_id: string, include_body?: boolean}} args */
  execute: async ({ ticket_id, include_body = true }) => {
    const ticket = TICKETS[ticket_id]
    // The model sees this error as the tool's result and can try again.
    if (!ticket) throw new Error(`no ticket ${ticket_id}`)
    if (include_body) return ticket
    const { body: _body, ...rest } = ticket
    return rest
  },
})

const agent = new Agent({
  model: 'gpt-5.4',
  ...(process.env.OPENAI_API_KEY ? {} : { provider: 'replay', cassette: CASSETTE }),
  tools: [lookupTicket],
  // Only our tool: no shell, no file tools.
  allowedTools: ['lookup_ticket'],
  fileTools: false,
  ephemeral: true,
})
console.log('the model sees:', JSON.stringify(lookupTicket.parameters))
const result = await agent.startThread().run('What does ticket CL-7 ask for? Answer in one sentence.')
for (const item of result.items) {
  if (item.type === 'tool_call') {
    console.log(`called ${item.tool}(${JSON.stringify(item.arguments)}) -> ${item.status}`)
  }
}
console.log('answer:', result.finalResponse)
