/**
 * The control socket's protocol: newline-delimited JSON over a unix socket, one response line per
 * request line, in order. A connection may carry any number of requests.
 *
 *   -> {"cmd":"status"}                      (optional "id": echoed back, any JSON value)
 *   <- {"ok":true,"result":{...StatusReport}}
 *   -> {"cmd":"frobnicate"}
 *   <- {"ok":false,"code":"unknown-command","error":"unknown command \"frobnicate\" (known: status)"}
 *
 * Error codes: `bad-request` (not a JSON object with a string "cmd"; the connection stays open),
 * `too-long` (a line over MAX_REQUEST_BYTES; the connection is then closed), `unknown-command`,
 * `bad-argument` (a known command with invalid arguments), `failed` (the command threw).
 * `set` (runtime tunables) and `path` (per-path changes) take their arguments in an "args" object
 * (see ./runtime.ts).
 */

/** Longest request line accepted (our choice: requests are small). */
export const MAX_REQUEST_BYTES = 64 * 1024

/** Longest response line a client accepts (our choice: a server with 10 000 sessions fits). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

export interface ControlRequest {
  cmd: string
  id?: unknown
  [field: string]: unknown
}

export type ControlErrorCode = 'bad-request' | 'too-long' | 'unknown-command' | 'bad-argument' | 'failed'

export type ControlResponse =
  | { ok: true, id?: unknown, result: unknown }
  | { ok: false, id?: unknown, code: ControlErrorCode, error: string }

/** Thrown by a command handler to answer with a specific error code and message. */
export class ControlCommandError extends Error {
  override name = 'ControlCommandError'
  constructor (readonly code: ControlErrorCode, message: string) {
    super(message)
  }
}

/** Parses one request line; throws ControlCommandError('bad-request') with the reason. */
export function parseRequest (line: string): ControlRequest {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw new ControlCommandError('bad-request', 'request is not JSON (send one JSON object per line, e.g. {"cmd":"status"})')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ControlCommandError('bad-request', 'request is not a JSON object')
  const cmd = (value as { cmd?: unknown }).cmd
  if (typeof cmd !== 'string' || cmd === '') throw new ControlCommandError('bad-request', 'request has no "cmd" string')
  return value as ControlRequest
}

export function encodeResponse (response: ControlResponse): string {
  return JSON.stringify(response) + '\n'
}

/**
 * Splits a byte stream into lines without holding more than `maxBytes` of one line.
 * `push` returns false once a line was too long (the caller should answer and close).
 */
export class LineSplitter {
  private pending: Buffer[] = []
  private pendingBytes = 0
  overflowed = false

  constructor (private readonly maxBytes: number, private readonly onLine: (line: string) => void) {}

  push (chunk: Buffer): boolean {
    if (this.overflowed) return false
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, start)
      if (nl < 0) break
      const piece = chunk.subarray(start, nl)
      if (this.pendingBytes + piece.length > this.maxBytes) return this.overflow()
      const line = this.pending.length === 0 ? piece.toString('utf8') : Buffer.concat([...this.pending, piece]).toString('utf8')
      this.pending = []
      this.pendingBytes = 0
      start = nl + 1
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line
      if (trimmed.trim() !== '') this.onLine(trimmed)
    }
    const rest = chunk.subarray(start)
    if (rest.length > 0) {
      if (this.pendingBytes + rest.length > this.maxBytes) return this.overflow()
      this.pending.push(Buffer.from(rest))
      this.pendingBytes += rest.length
    }
    return true
  }

  private overflow (): false {
    this.overflowed = true
    this.pending = []
    this.pendingBytes = 0
    return false
  }
}
