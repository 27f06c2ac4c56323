/**
 * The benchmark's load generator for connection-level tests, run as its own process:
 *
 *   node load.js churn   PORT SECONDS CONCURRENCY
 *     Each of CONCURRENCY workers loops: connect, send a REQUEST_BYTES request, read the
 *     RESPONSE_BYTES reply, end, wait for close. Prints connections per second and the p50/p99
 *     of a whole connection's life.
 *   node load.js latency PORT CONNECTIONS RATE SECONDS
 *     Opens CONNECTIONS connections (one warm-up round trip each), then sends requests in an open
 *     loop: each connection once every CONNECTIONS/RATE seconds at a random phase, so RATE
 *     requests per second in total. Prints p50/p90/p99 request/response latency.
 *   node load.js hold    PORT CONNECTIONS
 *     Opens CONNECTIONS connections, one round trip each, prints {"ready":true,...} and keeps
 *     them open until stdin closes.
 *
 * The last stdout line is one JSON object.
 */
import net from 'node:net'
import { REQUEST_BYTES, RESPONSE_BYTES } from './rpc.js'

const HOST = '127.0.0.1'
const request = Buffer.alloc(REQUEST_BYTES, 0x71)
const nowMs = (): number => performance.now()

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

function summary (samples: number[]): { p50Ms: number, p90Ms: number, p99Ms: number, maxMs: number } {
  const sorted = Float64Array.from(samples).sort()
  const list = Array.from(sorted)
  return { p50Ms: percentile(list, 0.5), p90Ms: percentile(list, 0.9), p99Ms: percentile(list, 0.99), maxMs: list[list.length - 1] ?? NaN }
}

/** A connection that can run request/response round trips, one at a time. */
class Conn {
  readonly socket: net.Socket
  private received = 0
  private waiting: ((ok: boolean) => void) | undefined
  closed = false

  constructor (port: number) {
    this.socket = net.connect({ port, host: HOST, noDelay: true })
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length
      if (this.received >= RESPONSE_BYTES && this.waiting !== undefined) {
        this.received -= RESPONSE_BYTES
        const done = this.waiting
        this.waiting = undefined
        done(true)
      }
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      this.closed = true
      const done = this.waiting
      this.waiting = undefined
      done?.(false)
    })
  }

  get busy (): boolean { return this.waiting !== undefined }

  /** One request/response; resolves false when the connection died first. */
  async roundTrip (): Promise<boolean> {
    if (this.closed) return false
    return await new Promise<boolean>((resolve) => {
      this.waiting = resolve
      this.socket.write(request)
    })
  }
}

async function openMany (port: number, count: number, dialConcurrency: number): Promise<{ conns: Conn[], errors: number }> {
  const conns: Conn[] = []
  let errors = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      const conn = new Conn(port)
      if (await conn.roundTrip()) conns.push(conn)
      else errors++
    }
  }
  await Promise.all(Array.from({ length: dialConcurrency }, worker))
  return { conns, errors }
}

async function churn (port: number, seconds: number, concurrency: number): Promise<object> {
  const lifetimes: number[] = []
  let errors = 0
  const endAt = nowMs() + seconds * 1000
  const once = async (): Promise<boolean> => await new Promise<boolean>((resolve) => {
    const started = nowMs()
    let received = 0
    let ok = false
    const socket = net.connect({ port, host: HOST, noDelay: true })
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received >= RESPONSE_BYTES && !ok) { ok = true; socket.end() }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      if (ok) lifetimes.push(nowMs() - started)
      resolve(ok)
    })
    socket.setTimeout(10_000, () => socket.destroy())
  })
  const worker = async (): Promise<void> => {
    while (nowMs() < endAt) {
      if (!(await once())) {
        errors++
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
  }
  const started = nowMs()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsedS = (nowMs() - started) / 1000
  return { connections: lifetimes.length, errors, elapsedS, perSecond: lifetimes.length / elapsedS, ...summary(lifetimes) }
}

async function latency (port: number, connections: number, rate: number, seconds: number): Promise<object> {
  const { conns, errors: openErrors } = await openMany(port, connections, 100)
  const samples: number[] = []
  let errors = 0
  let skipped = 0
  const periodMs = (conns.length / rate) * 1000
  const endAt = nowMs() + seconds * 1000
  const timers: NodeJS.Timeout[] = []
  for (const conn of conns) {
    const fire = (): void => {
      if (nowMs() >= endAt) return
      timers.push(setTimeout(fire, periodMs))
      if (conn.busy) { skipped++; return }
      const sent = nowMs()
      void conn.roundTrip().then((ok) => { if (ok) samples.push(nowMs() - sent); else errors++ })
    }
    timers.push(setTimeout(fire, Math.random() * periodMs))
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 500))
  for (const timer of timers) clearTimeout(timer)
  for (const conn of conns) conn.socket.destroy()
  return { open: conns.length, openErrors, samples: samples.length, errors, skipped, ...summary(samples) }
}

async function hold (port: number, connections: number): Promise<void> {
  const started = nowMs()
  const { conns, errors } = await openMany(port, connections, 200)
  const alive = conns.filter((c) => !c.closed).length
  process.stdout.write(JSON.stringify({ ready: true, open: alive, errors, elapsedS: (nowMs() - started) / 1000 }) + '\n')
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
  process.stdin.resume()
}

async function main (): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2)
  const n = rest.map(Number)
  if (mode === 'churn') process.stdout.write(JSON.stringify(await churn(n[0]!, n[1]!, n[2]!)) + '\n')
  else if (mode === 'latency') process.stdout.write(JSON.stringify(await latency(n[0]!, n[1]!, n[2]!, n[3]!)) + '\n')
  else if (mode === 'hold') return await hold(n[0]!, n[1]!)
  else throw new Error(`unknown mode ${String(mode)}`)
  process.exit(0)
}

void main()
