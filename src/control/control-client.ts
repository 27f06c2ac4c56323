/**
 * Talks to a running instance over its control socket: connect, send one request line, read one
 * response line. Failures carry the errno-style `code`/`syscall` of what went wrong and a message
 * that names the instance, so cmd/ prints them as one line.
 */
import net from 'node:net'
import { LineSplitter, MAX_RESPONSE_BYTES, type ControlRequest, type ControlResponse } from './protocol.js'

/** Default time for the whole request (our choice: a local socket answers in well under 1 ms). */
export const DEFAULT_CONTROL_TIMEOUT_MS = 3000

export interface ControlRequestOptions {
  /** Instance name for messages (default: the socket path). */
  name?: string
  timeoutMs?: number
}

/** The instance could not be reached (no socket, a stale socket, no answer, a broken answer). */
export class ControlUnavailableError extends Error {
  override name = 'ControlUnavailableError'
  constructor (message: string, readonly code: string, readonly syscall: string, readonly path: string) {
    super(message)
  }
}

/** The instance answered with an error response. */
export class ControlResponseError extends Error {
  override name = 'ControlResponseError'
  readonly syscall = 'control'
  constructor (readonly code: string, message: string) {
    super(message)
  }
}

/** Sends `request` and resolves with the response's result; rejects with one of the errors above. */
export async function requestControl (path: string, request: ControlRequest, options: ControlRequestOptions = {}): Promise<unknown> {
  const response = await exchange(path, request, options)
  if (!response.ok) throw new ControlResponseError(response.code, `${options.name ?? path}: ${response.error}`)
  return response.result
}

/** Sends `request` and resolves with the raw response (ok or not). */
export async function exchange (path: string, request: ControlRequest, options: ControlRequestOptions = {}): Promise<ControlResponse> {
  const name = options.name ?? path
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS
  return await new Promise<ControlResponse>((resolve, reject) => {
    const socket = net.connect({ path })
    let settled = false
    const finish = (error: Error | undefined, response?: ControlResponse): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error !== undefined) reject(error)
      else resolve(response!)
    }
    const timer = setTimeout(() => finish(new ControlUnavailableError(`gst instance ${name} did not answer within ${timeoutMs} ms (socket ${path})`, 'ETIMEDOUT', 'read', path)), timeoutMs)
    const splitter = new LineSplitter(MAX_RESPONSE_BYTES, (line) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch {
        finish(new ControlUnavailableError(`gst instance ${name} sent a response that is not JSON (socket ${path})`, 'EPROTO', 'read', path))
        return
      }
      const r = parsed as Partial<ControlResponse> | null
      if (r === null || typeof r !== 'object' || typeof r.ok !== 'boolean') {
        finish(new ControlUnavailableError(`gst instance ${name} sent a response without "ok" (socket ${path})`, 'EPROTO', 'read', path))
        return
      }
      finish(undefined, r as ControlResponse)
    })
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'))
    socket.on('data', (chunk: Buffer) => {
      if (!splitter.push(chunk)) finish(new ControlUnavailableError(`gst instance ${name} sent a response over ${MAX_RESPONSE_BYTES} bytes`, 'EMSGSIZE', 'read', path))
    })
    socket.on('end', () => finish(new ControlUnavailableError(`gst instance ${name} closed the control connection without answering (socket ${path})`, 'ECONNRESET', 'read', path)))
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connectError(err, name, path)))
  })
}

function connectError (err: NodeJS.ErrnoException, name: string, path: string): Error {
  const code = err.code ?? 'EIO'
  switch (code) {
    case 'ENOENT':
      return new ControlUnavailableError(`no gst instance named ${name} (no socket at ${path})`, code, 'connect', path)
    case 'ECONNREFUSED':
      return new ControlUnavailableError(`no gst instance named ${name} (stale socket at ${path}: nothing listens on it)`, code, 'connect', path)
    case 'EACCES': case 'EPERM':
      return new ControlUnavailableError(`not allowed to reach gst instance ${name} (socket ${path} belongs to another user: run as that user or root)`, code, 'connect', path)
    default:
      return new ControlUnavailableError(`couldn't reach gst instance ${name} at ${path}: ${err.message}`, code, err.syscall ?? 'connect', path)
  }
}
