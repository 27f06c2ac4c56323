// A connection flood against a real gst-server (PipeServer on loopback) from many 127.20.x.y
// addresses: HELLOs that are not from a key holder, idle connections that never send one, and
// one address connecting far above its rate limit. A legitimate client connects during the
// flood and moves data. Asserts function: it connected and its bytes came back exact, pending
// handshakes stayed within their cap (the oldest closed first), the rate limit and the cap were
// counted, and the flood cost a few log lines. The rate achieved is printed, never asserted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { PipeServer, PipeClient } from '../../src/pipe/index.js'
import { generateKey } from '../../src/crypto/key.js'
import { startEchoServer, MemoryLogger, roundTrip, randomData, sha256 } from '../helpers/net.js'
import type { PipeFloodOptions, PipeFloodReport } from './flood-pipe-sender.js'

const senderPath = fileURLToPath(new URL('./flood-pipe-sender.js', import.meta.url))
const MAX_PENDING = 256

test('a connection flood from many sources: pending handshakes stay capped, a legitimate client connects and its data passes', { timeout: 60_000 }, async (t) => {
  const key = generateKey()
  const echo = await startEchoServer()
  const serverLog = new MemoryLogger()
  const server = new PipeServer({
    listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: echo.port }, keys: [key], log: serverLog,
    maxPendingHandshakes: MAX_PENDING, tunables: { handshakeTimeoutMs: 3000 },
  })
  const port = (await server.start()).port
  const clientLog = new MemoryLogger()
  const client = new PipeClient({ listen: { host: '127.0.0.1', port: 0 }, server: { host: '127.0.0.1', port }, key, log: clientLog })
  const options: PipeFloodOptions = { host: '127.0.0.1', port, sources: 1000, ratePerSecond: 10_000, seconds: 6, maxOpen: 6000 }
  const sender = spawn(process.execPath, [senderPath, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(async () => {
    sender.kill('SIGKILL')
    await client.close()
    await server.close()
    echo.server.close()
  })
  const reportLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: sender.stdout! }).on('line', (l) => { if (l.startsWith('{')) resolve(l) })
    sender.once('exit', (code) => { if (code !== 0) reject(new Error(`flood sender exited with ${code}`)) })
  })

  let maxPending = 0
  const sampler = setInterval(() => { maxPending = Math.max(maxPending, server.snapshot().pendingHandshakes ?? 0) }, 20)
  await new Promise((resolve) => setTimeout(resolve, 1500))   // the flood is under way
  const startedMs = performance.now()
  const clientPort = (await client.start()).port
  await client.untilUp()
  const connectMs = performance.now() - startedMs
  const data = randomData(1_000_000)
  const echoed = await roundTrip(clientPort, data)
  const report = JSON.parse(await reportLine) as PipeFloodReport
  clearInterval(sampler)
  const stats = server.snapshot()

  t.diagnostic(`flood: ${report.connects} connects from ${report.sources} sources + 1 hot one in ${report.seconds.toFixed(1)} s = ${report.ratePerSecond}/s achieved ` +
    `(${report.hellos} bad HELLOs, ${report.idle} idle, ${report.closedByServer} closed by the server, ${report.connectErrors} connect errors)`)
  t.diagnostic(`legitimate client up ${connectMs.toFixed(0)} ms after start; server: pending at most ${maxPending} (cap ${MAX_PENDING}), errors ${JSON.stringify(Object.fromEntries(Object.entries(stats.errors).map(([k, v]) => [k, v.count])))}`)

  assert.equal(echoed.sha256, sha256(data), 'the legitimate client\'s bytes came back exact')
  assert.equal(client.snapshot().handshakes, 1, 'its session was never dropped')
  assert.ok(maxPending <= MAX_PENDING, `pending handshakes stayed within the cap (${maxPending})`)
  assert.ok((stats.errors.handshake?.count ?? 0) > 0, 'bad HELLOs were counted')
  assert.ok((stats.errors.limit?.count ?? 0) > 0, 'the cap and the per-source rate limit were counted')
  if (serverLog.lines.length > 50) t.diagnostic(serverLog.lines.slice(0, 40).join("\n"))
  assert.ok(serverLog.matching(/too many handshakes|in the handshake|failed/).length < 50, `the flood cost a few log lines (${serverLog.lines.length} in all)`)
})
