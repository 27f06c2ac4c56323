// A handshake flood against a ttt server, run as its own process (inside the server's namespace,
// from many 127.10.x.y source addresses on its loopback). Most sources replay INITs captured from
// real clients of the key (what an on-path attacker without the key can do, from spoofed
// addresses); a few "proven" sources hold the key, answer cookie replies and send fresh INITs
// with mac2 (a key holder at real addresses: only per-source rate limits stop it).
// Prints one JSON line with what it sent and what came back. Usage: node flood-sender.js JSON
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { InitHandshake } from '../../src/vpn/handshake.js'
import { CookieJar } from '../../src/crypto/cookie.js'
import { DatagramType } from '../../src/vpn/wire.js'

export interface FloodOptions {
  host: string
  port: number
  /** The pre-shared key, base64. */
  key: string
  /** Replaying source addresses (127.10.x.y). */
  sources: number
  /** Replayed INITs per second, over all replaying sources. */
  ratePerSecond: number
  seconds: number
  /** Sources that hold the key and answer cookies (127.11.0.y), and INITs per second each. */
  provenSources?: number
  provenRatePerSecond?: number
}

export interface FloodReport {
  sent: number
  seconds: number
  ratePerSecond: number
  sources: number
  cookieReplies: number
  responses: number
  provenSent: number
  provenCookies: number
  provenResponses: number
  /** Proven INITs sent with mac2 (a cookie in hand). */
  provenWithCookie: number
  sendErrors: number
}

/** A socket bound to `address` and connected to the server (no address lookup per send). */
async function bound (address: string, o: FloodOptions, report: FloodReport): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, address, () => { socket.off('error', reject); resolve() }) })
  await new Promise<void>((resolve) => socket.connect(o.port, o.host, resolve))
  socket.on('error', () => { report.sendErrors++ })
  socket.setSendBufferSize(1 << 20)
  return socket
}

async function flood (o: FloodOptions): Promise<FloodReport> {
  const key = Buffer.from(o.key, 'base64')
  const clientId = randomBytes(16)
  // Captured INITs: valid mac1 and Noise message, each replayed many times.
  // 64: fewer than the server's load threshold (100/s), so it really processes each one once.
  const captured = Array.from({ length: 64 }, (_, i) => {
    const ts = Buffer.alloc(12); ts.writeUInt32BE(0x40000000, 0); ts.writeUInt32BE(i, 8)
    return new InitHandshake(key, i + 1, { timestamp: ts, clientId, pathId: 0 }).datagram
  })
  const report: FloodReport = { sent: 0, seconds: 0, ratePerSecond: 0, sources: o.sources, cookieReplies: 0, responses: 0, provenSent: 0, provenCookies: 0, provenResponses: 0, provenWithCookie: 0, sendErrors: 0 }
  const sockets: dgram.Socket[] = []
  for (let i = 0; i < o.sources; i++) {
    const s = await bound(`127.10.${1 + Math.floor(i / 254)}.${1 + (i % 254)}`, o, report)
    s.on('message', (m) => { if (m[0] === DatagramType.CookieReply) report.cookieReplies++; else if (m[0] === DatagramType.Response) report.responses++ })
    sockets.push(s)
  }
  const proven: Array<{ socket: dgram.Socket, jar: CookieJar, pending?: InitHandshake, seq: number }> = []
  for (let i = 0; i < (o.provenSources ?? 0); i++) {
    const p = { socket: await bound(`127.11.0.${1 + i}`, o, report), jar: new CookieJar(), pending: undefined as InitHandshake | undefined, seq: 0 }
    p.socket.on('message', (m) => {
      if (m[0] === DatagramType.Response) { report.provenResponses++; return }
      if (m[0] !== DatagramType.CookieReply || p.pending === undefined) return
      if (p.pending.acceptCookie(m, key, p.jar, performance.now())) report.provenCookies++
    })
    proven.push(p)
  }
  const provenId = randomBytes(16)
  const sendProven = (p: typeof proven[number]): void => {
    const ts = Buffer.alloc(12); ts.writeUInt32BE(0x50000000, 0); ts.writeUInt32BE(++p.seq, 8)
    const clientIdOf = Buffer.from(provenId); clientIdOf[0] = proven.indexOf(p)
    p.pending = new InitHandshake(key, p.seq, { timestamp: ts, clientId: clientIdOf, pathId: 0 }, p.jar.cookie(0, performance.now()))
    report.provenSent++
    if (p.pending.cookie !== undefined) report.provenWithCookie++
    p.socket.send(p.pending.datagram)
  }

  // The captured INITs were used once by their client before the attacker replays them.
  for (const d of captured) sockets[0]!.send(d)
  for (let waited = 0; report.responses + report.cookieReplies < captured.length && waited < 5000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50))
  report.cookieReplies = 0   // (responses are kept: each captured INIT may get one, ever)

  const start = performance.now()
  const endMs = start + o.seconds * 1000
  let next = 0
  let provenDue = 0
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const now = performance.now()
      if (now >= endMs) { resolve(); return }
      // Send what the rate owes by now, in small bursts so the event loop still reads replies.
      const due = Math.min(Math.floor(((now - start) / 1000) * o.ratePerSecond) - report.sent, 512)
      for (let i = 0; i < due; i++) {
        const socket = sockets[next % sockets.length]!
        const d = captured[next % captured.length]!
        next++
        report.sent++
        socket.send(d)
      }
      const provenOwed = Math.floor(((now - start) / 1000) * (o.provenRatePerSecond ?? 0)) - provenDue
      for (let i = 0; i < provenOwed; i++) for (const p of proven) sendProven(p)
      provenDue += Math.max(0, provenOwed)
      setImmediate(step)
    }
    step()
  })
  report.seconds = (performance.now() - start) / 1000
  report.ratePerSecond = Math.round(report.sent / report.seconds)
  await new Promise((resolve) => setTimeout(resolve, 300))   // late replies
  for (const s of sockets) s.close()
  for (const p of proven) p.socket.close()
  return report
}

const json = process.argv[2]
if (json !== undefined) {
  flood(JSON.parse(json) as FloodOptions).then((r) => { console.log(JSON.stringify(r)) }, (err: Error) => { console.error(`flood: ${err.message}`); process.exit(1) })
}
