/**
 * Soak: the pipe and the VPN under mixed load with random faults, for 10 minutes by default
 * (`npm run soak -- --minutes N [--parts pipe,vpn]`). Both parts run at the same time.
 *
 * pipe (gst-client -> gst-server, the built binaries, on loopback):
 *   load    C workers, each in a loop: open a stream through gst-client to an echo target, send a
 *           random amount (1 byte to 4 MiB, log-uniform), half-close, read the echo, check every
 *           byte (bench/soak-streams.ts), close. Plus connection churn: short streams of 1 KiB
 *           opened and closed at a steady rate.
 *   faults  every 15-45 s, one of: cut every client-server connection (a TCP relay between them
 *           drops them: the client must reconnect), kill -9 the server and start it again on the
 *           same port, stop the echo target for 2 s (streams are refused, then work again).
 * vpn (ttt in the lab's namespaces over two emulated links; root): bench/soak-vpn.ts.
 *
 * Report: RSS of every process every 5 s (growth after the warm-up, target <= 5 %; a server that
 * is killed and restarted is judged over its longest incarnation), streams done, bytes, errors by
 * kind (streams that fail during a fault are expected; a stream whose bytes come back different
 * is a failure), and whether each process is still alive. Exit code 1 if any part failed.
 */
import net from 'node:net'
import { randomInt } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadavg } from 'node:os'
import { spawnChild, stopChild, freePort, waitForPort, installCleanup, type Child } from './lib/processes.js'
import { StreamTally, checkedStream, logUniformSize } from './soak-streams.js'
import { RssLog } from './soak-rss.js'
import { runVpnSoak, describeVpnSoak, vpnSoakUnavailableReason } from './soak-vpn.js'
import { benchArgs } from './lib/bench-args.js'

const USAGE = 'npm run soak -- [--minutes N] [--parts pipe,vpn] [--streams C] [--vpn-streams C] [--churn PER_SECOND]'
const args = benchArgs(USAGE, { minutes: 'number', streams: 'number', 'vpn-streams': 'number', churn: 'number', parts: 'string' })
const minutes = args.number('minutes', 10)
const workers = args.number('streams', 16)
const vpnWorkers = args.number('vpn-streams', 8)
const churnPerSecond = args.number('churn', 20)
const parts = new Set(args.string('parts', 'pipe,vpn').split(','))
if (!(minutes > 0) || !(workers > 0) || !(vpnWorkers > 0) || [...parts].some((p) => p !== 'pipe' && p !== 'vpn') || parts.size === 0) {
  console.error(`--minutes, --streams and --vpn-streams must be above 0, --parts a list of pipe and vpn\nusage: ${USAGE}`)
  process.exit(2)
}

const distDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name: string): string => join(distDir, 'cmd', `${name}.js`)
installCleanup()
const warmupS = Math.min(120, minutes * 60 * 0.25)

// ---- the pipe's echo target (in this process; it can be stopped and started again)

let targetServer: net.Server | undefined
const targetSockets = new Set<net.Socket>()
async function startTarget (port: number): Promise<void> {
  targetServer = net.createServer({ allowHalfOpen: true }, (s) => { s.pipe(s); s.on('error', () => {}) })
  targetServer.on('connection', (s) => { targetSockets.add(s); s.on('close', () => targetSockets.delete(s)) })
  await new Promise<void>((resolve) => targetServer!.listen(port, '127.0.0.1', resolve))
}
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

/** The pipe part; returns its report lines and whether it failed. */
async function pipeSoak (): Promise<{ lines: string[], failed: boolean }> {
  const key = execFileSync(process.execPath, [bin('gst'), 'keygen'], { encoding: 'utf8' }).trim()
  const targetPort = await freePort()
  const serverPort = await freePort()
  const relayPort = await freePort()
  const clientPort = await freePort()
  await startTarget(targetPort)
  const rss = new RssLog()
  const startServer = async (): Promise<Child> => {
    const c = spawnChild('gst-server', process.execPath, [bin('gst-server'), `127.0.0.1:${serverPort}`, `127.0.0.1:${targetPort}`, key, '--log-level', 'warn', '--connect-timeout', '3'])
    await waitForPort(serverPort, 10_000, c)
    rss.track('gst-server', c.pid)
    return c
  }
  let server = await startServer()
  const relay = startRelay(relayPort, serverPort)
  const client = spawnChild('gst-client', process.execPath, [bin('gst-client'), `127.0.0.1:${clientPort}`, `127.0.0.1:${relayPort}`, key, '--log-level', 'warn'])
  await waitForPort(clientPort, 10_000, client)
  rss.track('gst-client', client.pid)

  const tally = new StreamTally()
  const startMs = performance.now()
  const endMs = startMs + minutes * 60_000
  const atS = (): number => (performance.now() - startMs) / 1000
  const faults: Array<{ atS: number, kind: string }> = []
  let churnOk = 0
  rss.sample(0)
  const sampler = setInterval(() => rss.sample(atS()), 5000)

  const loops = Array.from({ length: workers }, async () => {
    while (performance.now() < endMs) await checkedStream(tally, '127.0.0.1', clientPort, logUniformSize(4 * 1024 * 1024))
  })
  const churn = (async () => {
    while (performance.now() < endMs) {
      const before = tally.ok
      await Promise.all(Array.from({ length: Math.max(1, Math.round(churnPerSecond / 10)) }, async () => await checkedStream(tally, '127.0.0.1', clientPort, 1024)))
      churnOk += tally.ok - before
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })()
  const faulter = (async () => {
    for (;;) {
      const waitMs = randomInt(15_000, 45_000)
      if (performance.now() + waitMs > endMs - 10_000) break
      await new Promise((resolve) => setTimeout(resolve, waitMs))
      const kind = (['cut connections', 'kill -9 server', 'target down 2 s'] as const)[randomInt(3)]!
      faults.push({ atS: Math.round(atS()), kind })
      console.log(`pipe ${faults.at(-1)!.atS} s: fault: ${kind}`)
      if (kind === 'cut connections') for (const s of relayed) s.destroy()
      else if (kind === 'kill -9 server') {
        server.process.kill('SIGKILL')
        await server.exited
        server = await startServer()
      } else {
        await stopTarget()
        await new Promise((resolve) => setTimeout(resolve, 2000))
        await startTarget(targetPort)
      }
    }
  })()
  const progress = setInterval(() => {
    console.log(`pipe ${atS().toFixed(0)} s: ${tally.ok} streams ok (${(tally.bytes / 2 ** 30).toFixed(2)} GiB), ${tally.mismatches} mismatches, errors ${JSON.stringify(Object.fromEntries(tally.errors))}, load ${loadavg()[0]!.toFixed(1)}`)
  }, 30_000)
  await Promise.all([...loops, churn, faulter])
  clearInterval(sampler); clearInterval(progress)

  const serverAlive = server.process.exitCode === null && server.process.signalCode === null
  const clientAlive = client.process.exitCode === null && client.process.signalCode === null
  const growthFailures = ['gst-client', 'gst-server'].filter((n) => (rss.growth(n, warmupS)?.pct ?? 0) > 5)
  const lines = [
    `duration ${atS().toFixed(0)} s, ${workers} stream workers + churn ${churnPerSecond}/s, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    `streams ok ${tally.ok} (of which churn ${churnOk}), ${(tally.bytes / 2 ** 30).toFixed(2)} GiB checked byte for byte, mismatches ${tally.mismatches}`,
    `faults (${faults.length}): ${faults.map((f) => `${f.atS} s ${f.kind}`).join('; ')}`,
    `stream errors by kind: ${JSON.stringify(Object.fromEntries(tally.errors))}`,
    ...rss.names().map((n) => rss.describe(n, warmupS)),
    `gst-client alive ${clientAlive}, gst-server alive ${serverAlive}`,
  ]
  const failed = tally.mismatches > 0 || !serverAlive || !clientAlive || growthFailures.length > 0
  lines.push(failed ? 'pipe soak FAILED' : 'pipe soak passed')
  await stopChild(client)
  await stopChild(server)
  relay.close()
  await stopTarget()
  return { lines, failed }
}

async function vpnSoak (): Promise<{ lines: string[], failed: boolean }> {
  const reason = vpnSoakUnavailableReason()
  if (reason !== undefined) return { lines: [`VPN part skipped: ${reason}`], failed: false }
  const result = await runVpnSoak({ seconds: minutes * 60, workers: vpnWorkers, warmupS, log: (line) => console.log(line) })
  return { lines: describeVpnSoak(result), failed: result.failures.length > 0 }
}

async function main (): Promise<void> {
  console.log(`soak: ${[...parts].join(' + ')} for ${minutes} min, warm-up ${warmupS.toFixed(0)} s, load average ${loadavg()[0]!.toFixed(1)}`)
  const results = await Promise.all([
    parts.has('pipe') ? pipeSoak() : undefined,
    parts.has('vpn') ? vpnSoak() : undefined,
  ])
  const [pipe, vpn] = results
  if (pipe) console.log(['\n## soak result: pipe', ...pipe.lines].join('\n'))
  if (vpn) console.log(['\n## soak result: vpn', ...vpn.lines].join('\n'))
  process.exitCode = results.some((r) => r?.failed === true) ? 1 : 0
}

main().catch((err: Error) => { console.error(err.stack ?? err.message); process.exitCode = 1 })
