// ESM entry: the same module as the CommonJS one (one copy of the classes,
// so `instanceof` agrees whichever way a program imports codeloop).
import { createRequire } from 'node:module'

const codeloop = createRequire(import.meta.url)('./index.js')

export const {
  Agent,
  Thread,
  StreamedTurn,
  tool,
  applyPatch,
  protocolSchema,
  errorForCode,
  version,
  CodeloopError,
  APIError,
  AuthenticationError,
  ContextWindowError,
  QuotaExceededError,
  StreamError,
  ReplayError,
  TurnInterruptedError,
  BudgetExceededError,
  SandboxError,
  ConfigError,
  HostCallbackError,
  BusyError,
  LocalIOError,
  InternalError,
  OutputInvalidError,
  NoActiveTurnError,
  PatchError,
} = codeloop
export default codeloop
