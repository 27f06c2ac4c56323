/**
 * The VPN part of `npm run soak` (root): ttt server and client in the lab (test/lab/lab.ts) over
 * two emulated links, under mixed load with random faults, for a given time.
 *
 *   load    W workers in the client namespace (bench/soak-vpn-load.ts), each opening one TCP
 *           stream after another through the tunnel to an echo server in the server namespace
 *           (random size up to 2 MiB, log-uniform; every byte checked), plus a ping every 200 ms.
 *   faults  every 15-45 s (configurable), one of: cut path 0 or path 1 for 2-8 s, cut both for
 *           3 s, a rekey burst (`ttt set` rekey=0.3 for 4 s on the client), kill -9 of the server
 *           and a restart 1 s later. After each fault the time until the next ping reply is the
 *           recovery time; a fault the tunnel does not recover from within 30 s is a failure.
 *   report  RSS of every process every 5 s (ttt client and server judged: growth after the warm-up
 *           <= 5 %), streams checked and bytes, stream errors by kind (streams cut by a fault are
 *           expected; a stream whose bytes come back different is a failure), ping loss, the ttt
 *           error counters and warning lines, and whether both ttt processes are still alive.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, labUnavailableReason } from '../test/lab/lab.js'
import { NsProcess, keygen, startTttServer, startTttClient, parseClosing, tttPath, sleep, type Closing } from './lib/vpn.js'
import { requestControl } from '../src/control/control-client.js'
import { socketPath } from '../src/control/paths.js'
import { RssLog } from './soak-rss.js'

const loadPath = fileURLToPath(new URL('./soak-vpn-load.js', import.meta.url))
const echoPath = fileURLToPath(new URL('./lib/stream-check.js', import.meta.url))

export interface VpnSoakOptions {
  seconds: number
  /** Concurrent stream workers (default 8). */
  workers?: number
  /** Largest stream (default 2 MiB). */
  maxBytes?: number
  /** A fault every faultMinMs..faultMaxMs (default 15-45 s). */
  faultMinMs?: number
  faultMaxMs?: number
  /** Which faults to draw from (default: all of FAULT_KINDS). */
  faultKinds?: readonly FaultKind[]
  /** ttt's --log-level (default info). */
  logLevel?: string
  /** Progress lines (default: none). */
  log?: (line: string) => void
  /** Warm-up before RSS growth is judged (default min(120 s, a quarter of the run)). */
  warmupS?: number
}

export interface VpnFault { atS: number, kind: string, recoveryMs: number | undefined }

export interface VpnSoakResult {
  durationS: number
  streams: { ok: number, bytes: number, mismatches: number, errors: Record<string, number> }
  ping: { sent: number, received: number }
  faults: VpnFault[]
  rss: RssLog
  warmupS: number
  clientAlive: boolean
  serverAlive: boolean
  /** Sessions the client brought up (1 + one per server restart and dead-session recovery). */
  sessionsUp: number
  rekeys: number
  /** Closing counters of the client and of the server's last incarnation. */
  closing: { client: Closing | undefined, server: Closing | undefined }
  /** Log lines at warn or error, per process name, and a few examples. */
  warnings: Record<string, number>
  warningExamples: string[]
  /** What went wrong (empty: the soak passed). */
  failures: string[]
}

const PORT = 5000
const ECHO_PORT = 7000
const SERVER_INNER = '10.9.0.1'
const RECOVERY_LIMIT_MS = 30_000
const REKEY_S = 20

type Tally = VpnSoakResult['streams']

export const FAULT_KINDS = ['cut path 0', 'cut path 1', 'cut both paths 3 s', 'rekey burst', 'kill -9 server'] as const
export type FaultKind = typeof FAULT_KINDS[number]

export async function runVpnSoak (options: VpnSoakOptions): Promise<VpnSoakResult> {
  const log = options.log ?? (() => {})
  const faultMinMs = options.faultMinMs ?? 15_000
  const faultMaxMs = options.faultMaxMs ?? 45_000
  const warmupS = options.warmupS ?? Math.min(120, options.seconds * 0.25)
  const controlDir = mkdtempSync(join(tmpdir(), 'gst-soak-'))
  const lab = await Lab.up({ links: [{ delayMs: 5, rateMbit: 40 }, { delayMs: 15, rateMbit: 20 }] })
  const procs: NsProcess[] = []
  const track = <T extends NsProcess>(p: T): T => { procs.push(p); return p }
  try {
    const key = keygen()
    const common = ['--control-dir', controlDir, '--rekey', String(REKEY_S), '--log-format', 'json', '--log-level', options.logLevel ?? 'info']
    const rss = new RssLog()
    const startServer = async (): Promise<NsProcess> => {
      const s = track(startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key, extra: [...common, '--name', 'soak-server'] }))
      await s.waitFor(/listening/, 15_000)
      rss.track('ttt server', s.pid)
      return s
    }
    let server = await startServer()
    const client = track(startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0), lab.clientAddress(1)], { key, extra: [...common, '--name', 'soak-client'] }))
    await client.waitFor(/session with .* up/, 20_000)
    rss.track('ttt client', client.pid)
    const echo = track(NsProcess.spawn('echo', lab.namespaces.server, process.execPath, [echoPath, 'echo', SERVER_INNER, String(ECHO_PORT)]))
    await echo.waitFor(/listening/, 10_000)
    rss.track('echo target', echo.pid)
    const load = track(NsProcess.spawn('load', lab.namespaces.client, process.execPath, [loadPath, SERVER_INNER, String(ECHO_PORT), String(options.workers ?? 8), String(options.maxBytes ?? 2 * 1024 * 1024)]))
    rss.track('stream load', load.pid)
    const ping = track(NsProcess.spawn('ping', lab.namespaces.client, 'ping', ['-n', '-i', '0.2', '-W', '1', SERVER_INNER]))
    const pingReplies = (): number => ping.lines.filter((l) => / bytes from /.test(l)).length
    const tally = (): Tally => {
      const last = [...load.lines].reverse().find((l) => l.startsWith('{'))
      return last === undefined ? { ok: 0, bytes: 0, mismatches: 0, errors: {} } : JSON.parse(last) as Tally
    }

    const startMs = performance.now()
    const endMs = startMs + options.seconds * 1000
    const atS = (): number => (performance.now() - startMs) / 1000
    rss.sample(0)
    const sampler = setInterval(() => rss.sample(atS()), 5000)
    const progress = setInterval(() => {
      const t = tally()
      log(`vpn ${atS().toFixed(0)} s: ${t.ok} streams ok (${(t.bytes / 2 ** 30).toFixed(2)} GiB), ${t.mismatches} mismatches, errors ${JSON.stringify(t.errors)}, ping replies ${pingReplies()}, load ${loadavg()[0]!.toFixed(1)}`)
    }, 30_000)

    const faults: VpnFault[] = []
    /** Waits for the next ping reply after now: the tunnel carries traffic again. */
    const recovery = async (): Promise<number | undefined> => {
      const from = performance.now()
      const before = pingReplies()
      while (performance.now() - from < RECOVERY_LIMIT_MS) {
        if (pingReplies() > before) return performance.now() - from
        await sleep(20)
      }
      return undefined
    }
    const kinds = options.faultKinds ?? FAULT_KINDS
    const control = async (name: string, request: { cmd: string, args?: unknown }): Promise<unknown> =>
      await requestControl(socketPath(controlDir, name), request as Parameters<typeof requestControl>[1])
    for (;;) {
      const waitMs = faultMinMs + Math.random() * (faultMaxMs - faultMinMs)
      if (performance.now() + waitMs > endMs - Math.max(5000, faultMinMs / 2)) break
      await sleep(waitMs)
      const kind = kinds[Math.floor(Math.random() * kinds.length)]!
      const at = Math.round(atS())
      let label: string = kind
      if (kind === 'cut path 0' || kind === 'cut path 1') {
        const link = kind === 'cut path 0' ? 0 : 1
        const holdMs = 2000 + Math.random() * 6000
        label = `${kind} ${(holdMs / 1000).toFixed(1)} s`
        await lab.cut(link)
        await sleep(holdMs)
        await lab.restore(link)
      } else if (kind === 'cut both paths 3 s') {
        await lab.cut(0); await lab.cut(1)
        await sleep(3000)
        await lab.restore(0); await lab.restore(1)
      } else if (kind === 'rekey burst') {
        await control('soak-client', { cmd: 'set', args: { rekeySeconds: 0.3 } })
        await sleep(4000)
        await control('soak-client', { cmd: 'set', args: { rekeySeconds: REKEY_S } })
      } else {
        server.kill()
        await server.exited
        await sleep(1000)
        server = await startServer()
      }
      const recoveryMs = await recovery()
      faults.push({ atS: at, kind: label, recoveryMs })
      log(`vpn ${at} s: fault: ${label}; ping replies again after ${recoveryMs === undefined ? 'NEVER (30 s)' : `${recoveryMs.toFixed(0)} ms`}`)
    }
    while (performance.now() < endMs) await sleep(Math.min(1000, endMs - performance.now()))
    clearInterval(sampler)
    clearInterval(progress)
    const durationS = atS()

    // Stop the load (its streams in flight finish), then read everything.
    load.child.stdin!.end()
    const loadDone = await Promise.race([load.exited.then(() => true), sleep(75_000).then(() => false)])
    if (!loadDone) load.kill()
    ping.child.kill('SIGINT')
    await Promise.race([ping.exited, sleep(3000)])
    const pingSummary = /(\d+) packets transmitted, (\d+) received/.exec(ping.text)
    const status = await control('soak-client', { cmd: 'status' }).catch(() => undefined) as { sessions?: Array<{ rekeys?: number }> } | undefined
    const clientAlive = client.running
    const serverAlive = server.running
    // The closing line (JSON log: its msg) carries the counters.
    const closingOf = async (p: NsProcess): Promise<Closing | undefined> => {
      if (!p.running) return undefined
      await p.stop()
      const line = p.lines.find((l) => /ttt (client|server) closing: /.test(l))
      return line === undefined ? undefined : parseClosing((JSON.parse(line) as { msg: string }).msg)
    }
    const closing = { client: await closingOf(client), server: await closingOf(server) }
    const warnings: Record<string, number> = {}
    const warningExamples: string[] = []
    for (const p of [client, ...procs.filter((q) => q.name.startsWith('ttt server'))]) {
      for (const line of p.lines) {
        if (!/"level":"(warn|error)"/.test(line)) continue
        warnings[p.name] = (warnings[p.name] ?? 0) + 1
        if (warningExamples.length < 12) warningExamples.push(`${p.name}: ${line}`)
      }
    }
    const streams = tally()
    const failures: string[] = []
    if (streams.mismatches > 0) failures.push(`${streams.mismatches} streams came back different`)
    if (streams.ok === 0) failures.push('no stream completed')
    if (!loadDone) failures.push('the load did not finish its streams within 75 s of the end')
    if (!clientAlive) failures.push(`ttt client died: ${client.text.slice(-500)}`)
    if (!serverAlive) failures.push(`ttt server died: ${server.text.slice(-500)}`)
    for (const f of faults) if (f.recoveryMs === undefined) failures.push(`no ping reply within 30 s after "${f.kind}" at ${f.atS} s`)
    for (const name of ['ttt client', 'ttt server']) {
      const g = rss.growth(name, warmupS)
      if (g !== undefined && g.pct > 5) failures.push(`${name} RSS grew ${g.pct.toFixed(1)} % after the warm-up`)
    }
    return {
      durationS,
      streams,
      ping: { sent: Number(pingSummary?.[1] ?? 0), received: Number(pingSummary?.[2] ?? 0) },
      faults,
      rss,
      warmupS,
      clientAlive,
      serverAlive,
      sessionsUp: client.lines.filter((l) => /session with .* up/.test(l)).length,
      rekeys: status?.sessions?.[0]?.rekeys ?? 0,
      closing,
      warnings,
      warningExamples,
      failures,
    }
  } finally {
    for (const p of procs) p.kill()
    await Promise.race([Promise.all(procs.map(async (p) => await p.exited)), sleep(5000)])
    await lab.down()
    rmSync(controlDir, { recursive: true, force: true })
  }
}

/** Why the VPN soak cannot run here (not root, no TUN, no wire, no ttt build), or undefined. */
export function vpnSoakUnavailableReason (): string | undefined {
  return labUnavailableReason()
}

/** The report lines of a VPN soak. */
export function describeVpnSoak (r: VpnSoakResult): string[] {
  const errorsOf = (c: Closing | undefined): string => c === undefined ? '-' : JSON.stringify(c.errors)
  const recoveries = r.faults.map((f) => f.recoveryMs).filter((x): x is number => x !== undefined).sort((a, b) => a - b)
  return [
    `duration ${r.durationS.toFixed(0)} s, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    `streams ok ${r.streams.ok}, ${(r.streams.bytes / 2 ** 30).toFixed(2)} GiB checked byte for byte, mismatches ${r.streams.mismatches}`,
    `stream errors by kind: ${JSON.stringify(r.streams.errors)}`,
    `ping: ${r.ping.received} of ${r.ping.sent} answered (${r.ping.sent > 0 ? ((1 - r.ping.received / r.ping.sent) * 100).toFixed(1) : '-'} % lost, outages included)`,
    `faults (${r.faults.length}): ${r.faults.map((f) => `${f.atS} s ${f.kind} (${f.recoveryMs === undefined ? 'no recovery' : `${f.recoveryMs.toFixed(0)} ms`})`).join('; ')}`,
    `recovery (first ping reply after the fault ended): median ${recoveries.length > 0 ? recoveries[Math.floor(recoveries.length / 2)]!.toFixed(0) : '-'} ms, max ${recoveries.at(-1)?.toFixed(0) ?? '-'} ms`,
    `client sessions brought up ${r.sessionsUp}, key rotations in the last session ${r.rekeys}`,
    `ttt error counters: client ${errorsOf(r.closing.client)}, server (last incarnation) ${errorsOf(r.closing.server)}`,
    `warning/error log lines: ${JSON.stringify(r.warnings)}${r.warningExamples.length > 0 ? `; e.g. ${r.warningExamples.slice(0, 3).join(' | ')}` : ''}`,
    ...r.rss.names().map((n) => r.rss.describe(n, r.warmupS)),
    `ttt client alive ${r.clientAlive}, ttt server alive ${r.serverAlive}`,
    r.failures.length === 0 ? 'VPN soak passed' : `VPN soak FAILED: ${r.failures.join('; ')}`,
  ]
}

export { tttPath }
