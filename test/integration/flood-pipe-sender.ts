// A connection flood against a gst-server, run as its own process: TCP connects from many
// 127.20.x.y source addresses, half of them sending a HELLO record that is not from a key holder,
// half sending nothing and holding the connection open (to fill the server's pending handshakes),
// plus one "hot" address (127.21.0.1) that connects as fast as it can (per-source rate limit).
// Prints one JSON line. Usage: node flood-pipe-sender.js JSON
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { encodeHandshakeRecord, RecordType } from '../../src/pipe/record.js'

export interface PipeFloodOptions {
  host: string
  port: number
  sources: number
  /** Connections per second over all sources. */
  ratePerSecond: number
  seconds: number
  /** Connections open at once, at most (file descriptors). */
  maxOpen: number
}

export interface PipeFloodReport {
  connects: number
  seconds: number
  ratePerSecond: number
  sources: number
  hellos: number
  idle: number
  /** Connections the server closed (or reset) before we did. */
  closedByServer: number
  connectErrors: number
}

async function flood (o: PipeFloodOptions): Promise<PipeFloodReport> {
  const report: PipeFloodReport = { connects: 0, seconds: 0, ratePerSecond: 0, sources: o.sources, hellos: 0, idle: 0, closedByServer: 0, connectErrors: 0 }
  // A HELLO record of the right size whose Noise message no key opens.
  const hello = encodeHandshakeRecord(RecordType.Hello, randomBytes(32 + 34 + 16))
  const open = new Set<net.Socket>()
  let n = 0
  const connectOne = (): void => {
    const i = n++
    const hot = i % 10 === 0
    const localAddress = hot ? '127.21.0.1' : `127.20.${1 + Math.floor((i % o.sources) / 254)}.${1 + ((i % o.sources) % 254)}`
    const sendHello = hot || i % 2 === 1
    const s = net.connect({ host: o.host, port: o.port, localAddress })
    report.connects++
    open.add(s)
    let closing = false
    s.on('connect', () => {
      if (sendHello) { report.hellos++; s.write(hello) } else report.idle++
    })
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET') report.connectErrors++ })
    s.on('close', () => { open.delete(s); if (!closing) report.closedByServer++ })
    s.resume()
    s.setTimeout(30_000, () => { closing = true; s.destroy() })
  }
  const start = performance.now()
  const endMs = start + o.seconds * 1000
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const now = performance.now()
      if (now >= endMs) { resolve(); return }
      const due = Math.min(Math.floor(((now - start) / 1000) * o.ratePerSecond) - report.connects, 256, o.maxOpen - open.size)
      for (let i = 0; i < due; i++) connectOne()
      setImmediate(step)
    }
    step()
  })
  report.seconds = (performance.now() - start) / 1000
  report.ratePerSecond = Math.round(report.connects / report.seconds)
  await new Promise((resolve) => setTimeout(resolve, 300))
  for (const s of open) s.destroy()
  return report
}

const json = process.argv[2]
if (json !== undefined) {
  flood(JSON.parse(json) as PipeFloodOptions).then((r) => { console.log(JSON.stringify(r)); process.exit(0) }, (err: Error) => { console.error(`flood: ${err.message}`); process.exit(1) })
}
