// Small real-socket helpers for integration tests and benchmarks.
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../../src/log.js'

/** An echo server that half-closes after echoing everything. */
export async function startEchoServer (): Promise<{ server: net.Server, port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

/** Sends `data`, half-closes, and returns the SHA-256 of everything read back until the peer's FIN. */
export async function roundTrip (port: number, data: Buffer, host = '127.0.0.1'): Promise<{ sha256: string, bytes: number }> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, allowHalfOpen: true })
    const hash = createHash('sha256')
    let bytes = 0
    socket.on('data', (chunk: Buffer) => { hash.update(chunk); bytes += chunk.length })
    socket.on('end', () => { socket.end(); resolve({ sha256: hash.digest('hex'), bytes }) })
    socket.on('error', reject)
    socket.on('connect', () => socket.end(data))
  })
}

export function sha256 (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

export function randomData (bytes: number): Buffer {
  return randomBytes(bytes)
}

/** A logger that keeps lines for assertions. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = []
  debug (m: string): void { this.lines.push(`debug ${m}`) }
  info (m: string): void { this.lines.push(`info ${m}`) }
  warn (m: string): void { this.lines.push(`warn ${m}`) }
  error (m: string): void { this.lines.push(`error ${m}`) }
  matching (re: RegExp): string[] { return this.lines.filter((l) => re.test(l)) }
}

export async function waitFor (predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
