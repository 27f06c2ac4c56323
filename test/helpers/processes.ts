// Helpers for tests that drive real processes (the gst binaries, squid, microsocks, curl) on loopback:
// free ports, spawning with guaranteed teardown, waiting for log lines and ports, and a passive relay
// that reads the cleartext record headers between gst-client and gst-server to see key epochs change.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { useTestControlDir, withTestControlDir } from './control-dir.js'

/** Absolute path of a compiled binary in dist/cmd (this file runs from dist/test/helpers). */
export function binPath (name: 'gst' | 'gst-server' | 'gst-client'): string {
  return fileURLToPath(new URL(`../../cmd/${name}.js`, import.meta.url))
}

/** A loopback port that was free a moment ago (the kernel picks it). */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The full path of an executable on PATH (plus the sbin directories squid lives in), or undefined. */
export function findExecutable (name: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter((d) => d !== '')
  for (const dir of dirs) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds; rejects after timeoutMs. */
export async function waitForPort (port: number, timeoutMs = 10_000, what = `port ${port}`): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to accept connections`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

/** How long output may still arrive after a process exited. */
const STDIO_DRAIN_MS = 2000

/** A spawned long-running process whose output is kept for assertions. */
export class Daemon {
  /** stdout as raw bytes (curl bodies), and decoded as text. */
  readonly stdoutChunks: Buffer[] = []
  stderr = ''
  readonly exited: Promise<Exit>
  exit: Exit | undefined
  private readonly waiters = new Set<() => void>()

  constructor (readonly name: string, readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8')
    child.stdout?.on('data', (b: Buffer) => { this.stdoutChunks.push(b); this.wake() })
    child.stderr?.on('data', (s: string) => { this.stderr += s; this.wake() })
    this.exited = new Promise((resolve) => {
      const done = (exit: Exit): void => { this.exit ??= exit; this.wake(); resolve(this.exit) }
      child.once('close', (code, signal) => done({ code, signal }))
      child.once('error', () => done({ code: null, signal: null }))
      // 'close' waits for stdout/stderr to end, and a helper the process forked (squid's) can hold
      // them open after it died: once it has exited, read what came within a moment and stop there.
      child.once('exit', (code, signal) => {
        setTimeout(() => {
          if (this.exit !== undefined) return
          child.stdout?.destroy()
          child.stderr?.destroy()
          done({ code, signal })
        }, STDIO_DRAIN_MS)
      })
    })
  }

  get stdoutBytes (): Buffer { return Buffer.concat(this.stdoutChunks) }
  get stdout (): string { return this.stdoutBytes.toString('utf8') }

  get stderrLines (): string[] { return this.stderr.split('\n').filter((l) => l !== '') }

  private wake (): void { for (const w of this.waiters) w() }

  /** Waits until stderr has a line matching `re`; fails early if the process exits first. */
  async waitForLine (re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const line = this.stderrLines.find((l) => re.test(l))
      if (line !== undefined) return line
      if (this.exit !== undefined) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before logging ${re}; stderr:\n${this.stderr}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${this.name} to log ${re}; stderr:\n${this.stderr}`)
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(timer); this.waiters.delete(done); resolve() }
        const timer = setTimeout(done, Math.min(left, 200))
        this.waiters.add(done)
      })
    }
  }

  /** Sends `signal` and waits for the exit, escalating to SIGKILL after graceMs. */
  async stop (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<Exit> {
    if (this.exit !== undefined) return this.exit
    this.child.kill(signal)
    const timer = setTimeout(() => { if (this.exit === undefined) this.child.kill('SIGKILL') }, graceMs)
    const exit = await this.exited
    clearTimeout(timer)
    return exit
  }
}

/**
 * Every process a test file spawns goes through one of these, so `t.after(() => group.killAll())`
 * (or `after`) reaps them all even when an assertion failed half-way.
 */
export class ProcessGroup {
  readonly daemons: Daemon[] = []
  /** $GST_CONTROL_DIR of every process spawned here: a temporary directory, never /run/gst. */
  readonly controlDir = useTestControlDir()

  constructor () {
    // If the test process itself is ended (a runner timeout sends SIGTERM), t.after never runs:
    // kill the children synchronously on the way out so no gst-server/squid outlives the test.
    const killSync = (): void => { for (const d of this.daemons) if (d.exit === undefined) d.child.kill('SIGKILL') }
    process.once('exit', killSync)
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => { killSync(); process.exit(signal === 'SIGTERM' ? 143 : 130) })
    }
  }

  spawn (name: string, command: string, args: string[], options: SpawnOptions = {}): Daemon {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, env: withTestControlDir(options.env) })
    const daemon = new Daemon(name, child)
    this.daemons.push(daemon)
    return daemon
  }

  /** A compiled gst binary under the current node. */
  spawnGst (name: 'gst' | 'gst-server' | 'gst-client', args: string[], options: SpawnOptions = {}): Daemon {
    return this.spawn(name, process.execPath, [binPath(name), ...args], options)
  }

  async killAll (): Promise<void> {
    await Promise.all(this.daemons.map(async (d) => await d.stop('SIGKILL', 1000)))
  }
}

/** Runs a short command to completion and returns its output (killing it after timeoutMs). */
export async function run (group: ProcessGroup, name: string, command: string, args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Exit & { stdout: string, stderr: string }> {
  const daemon = group.spawn(name, command, args, options)
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), options.timeoutMs ?? 20_000)
  const exit = await daemon.exited
  clearTimeout(timer)
  return { ...exit, stdout: daemon.stdout, stderr: daemon.stderr }
}

/**
 * Reads the record headers of a gst byte stream (docs in src/pipe/record.ts: 4-byte big-endian
 * length, 1-byte type; a SEALED record (type 3) then carries its key epoch in the next byte) and
 * reports each record's type and, for sealed records, epoch. Pure: it copies nothing and keeps only
 * the header bytes it has not yet seen whole.
 */
export class RecordHeaderScanner {
  private header = Buffer.alloc(6)
  private headerFilled = 0
  /** Bytes of the current record body still to skip after its header was read. */
  private skip = 0
  records = 0

  constructor (private readonly onRecord: (type: number, epoch: number | undefined, length: number) => void) {}

  push (chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - offset)
        this.skip -= n
        offset += n
        continue
      }
      const take = Math.min(6 - this.headerFilled, chunk.length - offset)
      chunk.copy(this.header, this.headerFilled, offset, offset + take)
      this.headerFilled += take
      offset += take
      // A record's body is at least 1 byte (its type); a handshake body may be shorter than 2.
      if (this.headerFilled >= 5) {
        const length = this.header.readUInt32BE(0)
        const type = this.header[4]!
        if (length < 1) throw new Error('record of length 0')
        if (length === 1) {
          this.emit(type, undefined, length)
          // The 6th byte, if read, belongs to the next record.
          const extra = this.headerFilled - 5
          this.headerFilled = 0
          if (extra > 0) { offset -= extra }
          continue
        }
        if (this.headerFilled < 6) continue
        this.emit(type, type === 3 ? this.header[5]! : undefined, length)
        this.headerFilled = 0
        this.skip = length - 2
      }
    }
  }

  private emit (type: number, epoch: number | undefined, length: number): void {
    this.records++
    this.onRecord(type, epoch, length)
  }
}

/** Counts the key epochs seen in one direction: each change of the epoch byte is one rotation. */
export class EpochCounter {
  epochs: number[] = []
  changes = 0
  readonly scanner = new RecordHeaderScanner((type, epoch) => {
    if (epoch === undefined) return
    const last = this.epochs[this.epochs.length - 1]
    if (last === undefined) { this.epochs.push(epoch); return }
    if (epoch !== last) {
      // Late records under the previous key may follow the switch; count only moves to a new epoch.
      if (!this.epochs.includes(epoch)) this.changes++
      this.epochs.push(epoch)
      if (this.epochs.length > 8) this.epochs.splice(0, this.epochs.length - 8)
    }
  })
}

/**
 * A TCP relay (loopback) between gst-client and gst-server that forwards bytes untouched and counts
 * key-epoch changes in each direction by reading record headers.
 */
export async function startEpochRelay (upstreamPort: number): Promise<{ port: number, toServer: EpochCounter, toClient: EpochCounter, close: () => Promise<void> }> {
  const toServer = new EpochCounter()
  const toClient = new EpochCounter()
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true })
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
    client.on('data', (chunk: Buffer) => toServer.scanner.push(chunk))
    upstream.on('data', (chunk: Buffer) => toClient.scanner.push(chunk))
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    toServer,
    toClient,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
