/**
 * The per-instance control socket: a unix socket at DIR/NAME.sock, owner-only (directory 0700 when
 * we create it, socket 0600), answering the newline-delimited JSON requests of ./protocol.ts.
 *
 * Start: a socket left by a dead instance (nobody accepts on it) is removed; a live one means the
 * name is taken and start fails with a message naming the running instance. Close: the socket is
 * removed (libuv unlinks the path when the listener closes). On a process exit that skips close,
 * removeSocketSync removes it only if it is still ours (same inode). Known limit: if our socket was
 * deleted by hand and another instance took the name meanwhile, our close unlinks its path too.
 */
import net from 'node:net'
import { chmodSync, lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs'
import { UsageError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import { socketPath } from './paths.js'
import { exchange } from './control-client.js'
import {
  ControlCommandError, LineSplitter, MAX_REQUEST_BYTES, encodeResponse, parseRequest,
  type ControlRequest, type ControlResponse,
} from './protocol.js'
import type { StatusReport } from './status.js'

/** A command's handler: returns the result, or throws ControlCommandError for an error response. */
export type ControlHandler = (request: ControlRequest) => unknown

export interface ControlServerOptions {
  /** Instance name (checked: see paths.ts). */
  name: string
  /** Directory for the socket, e.g. defaultControlDir(...) from cmd/. */
  dir: string
  /** Builds the current status on request. */
  status: () => StatusReport
  /** Further commands (`set`, `path` later); `status` is always present. */
  commands?: Record<string, ControlHandler>
  log?: Logger
  /** How long a probe of an existing socket may take before it counts as stale (default 1000 ms). */
  probeTimeoutMs?: number
}

/** Idle control connections are closed after this (our choice). */
const IDLE_TIMEOUT_MS = 60_000

export class ControlServer {
  readonly path: string
  private readonly server: net.Server
  private readonly connections = new Set<net.Socket>()
  private readonly commands: Map<string, ControlHandler>
  private readonly log: Logger
  private inode: number | undefined
  private listening = false

  constructor (private readonly options: ControlServerOptions) {
    this.path = socketPath(options.dir, options.name)
    this.log = options.log ?? silentLogger
    this.commands = new Map(Object.entries({ ...options.commands, status: () => options.status() }))
    this.server = net.createServer((socket) => this.onConnection(socket))
  }

  get name (): string { return this.options.name }

  /** Creates the directory and socket; rejects with a UsageError when the name is in use. */
  async start (): Promise<void> {
    this.prepareDirectory()
    await this.clearStaleSocket()
    await this.listen()
    this.listening = true
    this.log.debug(`control socket ${this.path} ready`)
  }

  /** Stops accepting, closes open control connections and removes the socket. */
  async close (): Promise<void> {
    if (!this.listening) return
    this.listening = false
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const socket of this.connections) socket.destroy()
    this.removeSocketSync()
    await closed
  }

  /** Removes the socket file if it is still the one we created (for a process 'exit' hook). */
  removeSocketSync (): void {
    if (this.inode === undefined) return
    try {
      if (lstatSync(this.path).ino === this.inode) unlinkSync(this.path)
    } catch {
      // already gone
    }
    this.inode = undefined
  }

  private prepareDirectory (): void {
    const { dir } = this.options
    let created: string | undefined
    try {
      created = mkdirSync(dir, { recursive: true, mode: 0o700 })
    } catch (err) {
      throw new UsageError(`couldn't create control directory ${dir}: ${(err as Error).message} (use --control-dir)`)
    }
    // mkdir's mode is filtered by the umask: make what we created owner-only for certain.
    if (created !== undefined) chmodSync(dir, 0o700)
    const stats = lstatSync(dir)
    if (!stats.isDirectory()) throw new UsageError(`control directory ${dir} is not a directory`)
  }

  private async clearStaleSocket (): Promise<void> {
    let stats: Stats
    try {
      stats = lstatSync(this.path)
    } catch {
      return // no socket: the usual case
    }
    if (!stats.isSocket()) throw new UsageError(`${this.path} exists and is not a socket: remove it or choose another --name`)
    let response: ControlResponse
    try {
      response = await exchange(this.path, { cmd: 'status' }, { name: this.options.name, timeoutMs: this.options.probeTimeoutMs ?? 1000 })
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'ECONNREFUSED' || code === 'ENOENT') {
        try { unlinkSync(this.path) } catch {}
        this.log.info(`control socket ${this.path}: removed a stale socket left by an instance that is gone`)
        return
      }
      // Something accepts on it but does not answer like gst: leave it alone.
      throw new UsageError(`gst instance name "${this.options.name}" is in use (socket ${this.path} is live: ${(err as Error).message}); choose another --name`)
    }
    const instance = response.ok ? (response.result as Partial<StatusReport> | undefined)?.instance : undefined
    const who = instance !== undefined ? ` (${instance.mode ?? 'gst'}, pid ${instance.pid ?? '?'})` : ''
    throw new UsageError(`a gst instance named "${this.options.name}" is already running${who} on ${this.path}: stop it or choose another --name`)
  }

  private async listen (): Promise<void> {
    // Create the socket owner-only from the start (bind is synchronous inside listen), then make
    // sure with chmod: the umask of the process is restored at once.
    let previousUmask: number | undefined
    try { previousUmask = process.umask(0o177) } catch {}
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject)
        this.server.listen(this.path, () => {
          this.server.off('error', reject)
          resolve()
        })
        if (previousUmask !== undefined) { process.umask(previousUmask); previousUmask = undefined }
      })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (e.code === 'EADDRINUSE') throw new UsageError(`a gst instance named "${this.options.name}" is already running on ${this.path} (it started at the same moment): choose another --name`)
      throw new UsageError(`couldn't create control socket ${this.path}: ${e.message}`)
    } finally {
      if (previousUmask !== undefined) process.umask(previousUmask)
    }
    chmodSync(this.path, 0o600)
    this.inode = lstatSync(this.path).ino
  }

  private onConnection (socket: net.Socket): void {
    this.connections.add(socket)
    socket.on('close', () => this.connections.delete(socket))
    socket.on('error', () => {})
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy())
    const splitter = new LineSplitter(MAX_REQUEST_BYTES, (line) => this.answer(socket, line))
    socket.on('data', (chunk: Buffer) => {
      if (!splitter.push(chunk)) {
        socket.end(encodeResponse({ ok: false, code: 'too-long', error: `request line over ${MAX_REQUEST_BYTES} bytes` }))
      }
    })
    socket.on('end', () => socket.end())
  }

  private answer (socket: net.Socket, line: string): void {
    if (socket.destroyed) return
    let request: ControlRequest | undefined
    let response: ControlResponse
    try {
      request = parseRequest(line)
      const handler = this.commands.get(request.cmd)
      if (handler === undefined) {
        throw new ControlCommandError('unknown-command', `unknown command "${request.cmd}" (known: ${[...this.commands.keys()].sort().join(', ')})`)
      }
      response = { ok: true, result: handler(request) }
    } catch (err) {
      if (err instanceof ControlCommandError) response = { ok: false, code: err.code, error: err.message }
      else {
        this.log.warn(`control socket ${this.path}: command ${request?.cmd ?? '?'} failed: ${(err as Error).message}`)
        response = { ok: false, code: 'failed', error: `command failed: ${(err as Error).message}` }
      }
    }
    if (request?.id !== undefined) response.id = request.id
    socket.write(encodeResponse(response))
  }
}
