/**
 * Soak: gst-client -> gst-server (the built binaries) on loopback under mixed load with random
 * faults, for 10 minutes by default (`npm run soak -- --minutes N`).
 *
 *   load    C workers, each in a loop: open a stream through gst-client to an echo target, send a
 *           random amount (1 byte to 4 MiB, log-uniform), half-close, read the echo, check every
 *           byte (SHA-256 of what was sent against what came back), close. Plus connection churn:
 *           short streams of 1 KiB opened and closed at a steady rate.
 *   faults  every 15-45 s, one of: cut every client-server connection (a TCP relay between them
 *           drops them: the client must reconnect), kill -9 the server and start it again on the
 *           same port, stop the echo target for 2 s (streams are refused, then work again).
 *   report  RSS of every gst process every 5 s (growth after the warm-up, target <= 5 %), streams
 *           done, bytes, errors by kind (streams that fail during a fault are expected; a stream
 *           whose bytes come back different is a failure), and whether each process is still alive.
 *
 * The VPN is not part of this soak yet (see BENCHMARKS.md). Exit code 1 if any stream came back
 * different or RSS grew more than 5 % after warm-up.
 */
import net from 'node:net'
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadavg } from 'node:os'
import { spawnChild, stopChild, freePort, waitForPort, rssBytes, installCleanup, type Child } from './lib/processes.js'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const minutes = flag('--minutes', 10)
const workers = flag('--streams', 16)
const churnPerSecond = flag('--churn', 20)
if (!(minutes > 0) || !(workers > 0)) throw new Error('usage: soak [--minutes N] [--streams C] [--churn PER_SECOND]')

const distDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name: string): string => join(distDir, 'cmd', `${name}.js`)
installCleanup()

// ---- the echo target (in this process; it can be stopped and started again)

let targetServer: net.Server | undefined
async function startTarget (port: number): Promise<void> {
  targetServer = net.createServer({ allowHalfOpen: true }, (s) => { s.pipe(s); s.on('error', () => {}) })
  await new Promise<void>((resolve) => targetServer!.listen(port, '127.0.0.1', resolve))
}
const targetSockets = new Set<net.Socket>()
async function stopTarget (): Promise<void> {
  await new Promise<void>((resolve) => { targetServer?.close(() => resolve()); for (const s of targetSockets) s.destroy() })
}

// ---- a relay between client and server whose connections can be cut

const relayed = new Set<net.Socket>()
function startRelay (listenPort: number, serverPort: number): net.Server {
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(serverPort, '127.0.0.1')
    relayed.add(inbound); relayed.add(outbound)
    inbound.pipe(outbound); outbound.pipe(inbound)
    const done = (): void => { inbound.destroy(); outbound.destroy(); relayed.delete(inbound); relayed.delete(outbound) }
    inbound.on('error', done); outbound.on('error', done); inbound.on('close', done); outbound.on('close', done)
  })
  relay.listen(listenPort, '127.0.0.1')
  return relay
}

// ---- counters

const errors = new Map<string, number>()
const countError = (kind: string): void => { errors.set(kind, (errors.get(kind) ?? 0) + 1) }
let streamsOk = 0
let bytesOk = 0
let mismatches = 0
let churnOk = 0

/** One stream: send `bytes`, read the echo, compare. */
async function oneStream (port: number, bytes: number): Promise<void> {
  const payload = randomBytes(bytes)
  const sent = createHash('sha256').update(payload).digest('hex')
  await new Promise<void>((resolve) => {
    const hash = createHash('sha256')
    let received = 0
    let settled = false
    const finish = (kind?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      s.destroy()
      if (kind !== undefined) countError(kind)
      resolve()
    }
    const s = net.connect(port, '127.0.0.1', () => {
      let at = 0
      const pump = (): void => {
        while (at < payload.length) {
          const chunk = payload.subarray(at, at + 65_536)
          at += chunk.length
          if (!s.write(chunk)) { s.once('drain', pump); return }
        }
        s.end()
      }
      pump()
    })
    const timer = setTimeout(() => finish('timeout (60 s)'), 60_000)
    s.on('data', (d: Buffer) => { received += d.length; hash.update(d) })
    s.on('end', () => {
      if (received !== bytes) { finish(received === 0 ? 'closed before any byte came back' : 'cut short (fewer bytes back, no corruption check)'); return }
      if (hash.digest('hex') !== sent) { mismatches++; finish('MISMATCH: bytes came back different'); return }
      streamsOk++
      bytesOk += bytes
      finish()
    })
    s.on('error', (err: NodeJS.ErrnoException) => finish(`socket ${err.code ?? err.message}`))
  })
}

function randomSize (): number {
  return Math.max(1, Math.floor(Math.exp(Math.random() * Math.log(4 * 1024 * 1024))))
}

// ---- main

async function main (): Promise<void> {
  const key = execFileSync(process.execPath, [bin('gst'), 'keygen'], { encoding: 'utf8' }).trim()
  const targetPort = await freePort()
  const serverPort = await freePort()
  const relayPort = await freePort()
  const clientPort = await freePort()
  await startTarget(targetPort)
  targetServer!.on('connection', (s) => { targetSockets.add(s); s.on('close', () => targetSockets.delete(s)) })
  const startServer = async (): Promise<Child> => {
    const c = spawnChild('gst-server', process.execPath, [bin('gst-server'), `127.0.0.1:${serverPort}`, `127.0.0.1:${targetPort}`, key, '--log-level', 'warn', '--connect-timeout', '3'])
    await waitForPort(serverPort, 10_000, c)
    return c
  }
  let server = await startServer()
  const relay = startRelay(relayPort, serverPort)
  const client = spawnChild('gst-client', process.execPath, [bin('gst-client'), `127.0.0.1:${clientPort}`, `127.0.0.1:${relayPort}`, key, '--log-level', 'warn'])
  await waitForPort(clientPort, 10_000, client)

  const startMs = performance.now()
  const endMs = startMs + minutes * 60_000
  const warmupMs = Math.min(120_000, minutes * 60_000 * 0.25)
  const rss: Array<{ atS: number, server: number | undefined, client: number | undefined, serverIncarnation: number }> = []
  let incarnation = 0
  const faults: Array<{ atS: number, kind: string }> = []

  const sampler = setInterval(() => {
    rss.push({ atS: (performance.now() - startMs) / 1000, server: rssBytes(server.pid), client: rssBytes(client.pid), serverIncarnation: incarnation })
  }, 5000)

  const loops = Array.from({ length: workers }, async () => {
    while (performance.now() < endMs) await oneStream(clientPort, randomSize())
  })
  const churn = (async () => {
    while (performance.now() < endMs) {
      const before = streamsOk
      await Promise.all(Array.from({ length: Math.max(1, Math.round(churnPerSecond / 10)) }, async () => await oneStream(clientPort, 1024)))
      churnOk += streamsOk - before
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })()
  const faulter = (async () => {
    for (;;) {
      const waitMs = randomInt(15_000, 45_000)
      if (performance.now() + waitMs > endMs - 10_000) break
      await new Promise((resolve) => setTimeout(resolve, waitMs))
      const kind = (['cut connections', 'kill -9 server', 'target down 2 s'] as const)[randomInt(3)]!
      faults.push({ atS: Math.round((performance.now() - startMs) / 1000), kind })
      console.log(`${faults.at(-1)!.atS} s: fault: ${kind}`)
      if (kind === 'cut connections') for (const s of relayed) s.destroy()
      else if (kind === 'kill -9 server') {
        server.process.kill('SIGKILL')
        await server.exited
        server = await startServer()
        incarnation++
      } else {
        await stopTarget()
        await new Promise((resolve) => setTimeout(resolve, 2000))
        await startTarget(targetPort)
        targetServer!.on('connection', (s) => { targetSockets.add(s); s.on('close', () => targetSockets.delete(s)) })
      }
    }
  })()
  const progress = setInterval(() => {
    const last = rss.at(-1)
    console.log(`${Math.round((performance.now() - startMs) / 1000)} s: ${streamsOk} streams ok (${(bytesOk / 2 ** 30).toFixed(2)} GiB), ${mismatches} mismatches, errors ${JSON.stringify(Object.fromEntries(errors))}, RSS server ${mib(last?.server)} client ${mib(last?.client)} MiB, load ${loadavg()[0]!.toFixed(1)}`)
  }, 30_000)
  await Promise.all([...loops, churn, faulter])
  clearInterval(sampler); clearInterval(progress)

  const serverAlive = server.process.exitCode === null && server.process.signalCode === null
  const clientAlive = client.process.exitCode === null && client.process.signalCode === null
  // Growth after warm-up: the median of the samples in the minute after the warm-up against the
  // median of the last minute (server: within its last incarnation, which must span both).
  const growth = (pick: (s: typeof rss[number]) => number | undefined, samples: typeof rss): { warm: number, end: number, pct: number } | undefined => {
    const after = samples.filter((s) => s.atS * 1000 >= warmupMs)
    if (after.length < 6) return undefined
    const n = Math.max(3, Math.floor(after.length / 5))
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const warm = median(after.slice(0, n).map(pick).filter((x): x is number => x !== undefined))
    const end = median(after.slice(-n).map(pick).filter((x): x is number => x !== undefined))
    return { warm, end, pct: (end / warm - 1) * 100 }
  }
  const clientGrowth = growth((s) => s.client, rss)
  // The server is judged over its longest-lived incarnation (kill -9 restarts it).
  const incarnations = Array.from({ length: incarnation + 1 }, (_, i) => rss.filter((s) => s.serverIncarnation === i))
  const longest = incarnations.reduce((a, b) => (b.length > a.length ? b : a))
  const incarnationStartS = longest[0]?.atS ?? 0
  const incarnationEndS = longest.at(-1)?.atS ?? 0
  const serverGrowth = growth((s) => s.server, longest.map((s) => ({ ...s, atS: s.atS - incarnationStartS })))
  const durationS = (performance.now() - startMs) / 1000

  console.log('\n## soak result')
  console.log(`duration ${durationS.toFixed(0)} s, ${workers} stream workers + churn ${churnPerSecond}/s, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log(`streams ok ${streamsOk} (of which churn ${churnOk}), ${(bytesOk / 2 ** 30).toFixed(2)} GiB checked byte for byte, mismatches ${mismatches}`)
  console.log(`faults (${faults.length}): ${faults.map((f) => `${f.atS} s ${f.kind}`).join('; ')}`)
  console.log(`stream errors by kind: ${JSON.stringify(Object.fromEntries(errors))}`)
  console.log(`gst-client RSS: ${fmtGrowth(clientGrowth)}; alive ${clientAlive}`)
  console.log(`gst-server RSS (longest incarnation of ${incarnation + 1}, ${incarnationStartS.toFixed(0)}-${incarnationEndS.toFixed(0)} s): ${fmtGrowth(serverGrowth)}; alive ${serverAlive}`)
  console.log(`RSS samples (s: server/client MiB): ${rss.filter((_, i) => i % 6 === 0).map((s) => `${s.atS.toFixed(0)}: ${mib(s.server)}/${mib(s.client)}`).join(', ')}`)
  const bad = mismatches > 0 || !serverAlive || !clientAlive || (clientGrowth?.pct ?? 0) > 5 || (serverGrowth?.pct ?? 0) > 5
  await stopChild(client)
  await stopChild(server)
  relay.close()
  await stopTarget()
  process.exitCode = bad ? 1 : 0
}

function mib (bytes: number | undefined): string { return bytes === undefined ? '-' : (bytes / 2 ** 20).toFixed(1) }
function fmtGrowth (g: { warm: number, end: number, pct: number } | undefined): string {
  return g === undefined ? 'too short to judge (fewer than 6 samples after the warm-up)' : `${mib(g.warm)} MiB after warm-up -> ${mib(g.end)} MiB at the end (${g.pct >= 0 ? '+' : ''}${g.pct.toFixed(1)} %)`
}

main().catch((err: Error) => { console.error(err.stack ?? err.message); process.exitCode = 1 })
