/**
 * npm run bench:pipe — the encrypted pipe against a direct connection, a socat relay and stunnel4,
 * all as real processes on loopback:
 *   single    one stream of BYTES (default 2 GiB) from `socat -u /dev/zero` into a counting sink;
 *   parallel  8 streams of BYTES/8 at once, aggregate rate;
 *   churn     new connections per second, each one 100-byte request and 1 KiB reply, CONCURRENCY
 *             at a time;
 *   latency   1000 open connections, requests at a fixed total rate, p50/p99 minus direct's;
 *   rss       gst-server and gst-client VmRSS with 10,000 open idle streams.
 * Prints a table with ratios to stunnel4 and socat and rewrites this benchmark's section of
 * BENCHMARKS.md (full runs only, or with --write).
 *
 * Options (flags or env): --bytes SIZE (BENCH_PIPE_BYTES), --tools direct,socat,stunnel4,gst,
 * --tests single,parallel,churn,latency,rss, --quick, --write / --no-write, --cpu-prof DIR
 * (gst processes of the single-stream run write V8 CPU profiles into DIR), --gst-args '--window 4m'
 * (BENCH_PIPE_GST_ARGS: extra flags for both gst binaries), --gst-node-args '--trace-gc' (node flags for
 * both gst processes of the single-stream run, e.g. --heap-prof or --trace-gc).
 */
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import { execFileSync } from 'node:child_process'
import {
  installCleanup, spawnChild, stopChild, nextJson, cpuSeconds, rssBytes, sleep, machineBusySeconds, ownTreeSeconds, OPEN_FILES_LIMIT, type Child,
} from './lib/processes.js'
import { TOOLS, missingReason, startRelay, type ToolName, type Relay } from './lib/relays.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..', '..')
const libJs = (name: string): string => join(here, 'lib', `${name}.js`)

type TestName = 'single' | 'parallel' | 'churn' | 'latency' | 'rss'
const TESTS: readonly TestName[] = ['single', 'parallel', 'churn', 'latency', 'rss']

interface Settings {
  bytes: number
  parallelStreams: number
  churnSeconds: number
  churnConcurrency: number
  latencyConnections: number
  latencyRate: number
  latencySeconds: number
  idleStreams: number
  tools: ToolName[]
  tests: TestName[]
  write: boolean | undefined
  cpuProfDir: string | undefined
  gstArgs: string[]
  gstNodeArgs: string[]
  quick: boolean
}

function parseArgs (argv: string[]): Settings {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`)
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined]
    if (['quick', 'write', 'no-write'].includes(name)) { flags.set(name, 'true'); continue }
    const value = inline ?? argv[++i]
    if (value === undefined) throw new Error(`--${name} needs a value`)
    flags.set(name, value)
  }
  const env = process.env
  const quick = flags.has('quick') || env.BENCH_PIPE_QUICK === '1'
  const list = <T extends string>(text: string | undefined, all: readonly T[], what: string): T[] => {
    if (text === undefined) return [...all]
    const items = text.split(',').map((s) => s.trim()).filter(Boolean)
    for (const item of items) if (!all.includes(item as T)) throw new Error(`unknown ${what} "${item}" (one of ${all.join(', ')})`)
    return all.filter((t) => items.includes(t))
  }
  const number = (name: string, envName: string, fallback: number): number => {
    const text = flags.get(name) ?? env[envName]
    if (text === undefined) return fallback
    const n = Number(text)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number (got "${text}")`)
    return n
  }
  const bytesText = flags.get('bytes') ?? env.BENCH_PIPE_BYTES
  return {
    bytes: bytesText !== undefined ? parseBytes(bytesText, '--bytes') : (quick ? 256 * 2 ** 20 : 2 * 2 ** 30),
    parallelStreams: 8,
    churnSeconds: number('churn-seconds', 'BENCH_PIPE_CHURN_SECONDS', quick ? 2 : 5),
    churnConcurrency: number('churn-concurrency', 'BENCH_PIPE_CHURN_CONCURRENCY', 32),
    latencyConnections: number('latency-connections', 'BENCH_PIPE_LATENCY_CONNECTIONS', 1000),
    latencyRate: number('latency-rate', 'BENCH_PIPE_LATENCY_RATE', 1000),
    latencySeconds: number('latency-seconds', 'BENCH_PIPE_LATENCY_SECONDS', quick ? 2 : 5),
    idleStreams: number('idle-streams', 'BENCH_PIPE_IDLE_STREAMS', quick ? 2000 : 10_000),
    tools: list(flags.get('tools') ?? env.BENCH_PIPE_TOOLS, TOOLS, 'tool'),
    tests: list(flags.get('tests') ?? env.BENCH_PIPE_TESTS, TESTS, 'test'),
    write: flags.has('write') ? true : flags.has('no-write') ? false : undefined,
    cpuProfDir: flags.get('cpu-prof'),
    gstArgs: (flags.get('gst-args') ?? env.BENCH_PIPE_GST_ARGS ?? '').split(/\s+/).filter(Boolean),
    gstNodeArgs: (flags.get('gst-node-args') ?? '').split(/\s+/).filter(Boolean),
    quick,
  }
}

/** A byte size: 2147483648, 512m, 2g (powers of 1024). */
function parseBytes (text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim())
  if (match === null) throw new Error(`${flag} takes a size such as 512m or 2g (got "${text}")`)
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  return Math.floor(Number(match[1]) * scale)
}

// ---- measurements

interface ThroughputResult {
  gbitPerSec: number
  seconds: number
  bytes: number
  /** Relay CPU seconds (user+sys) per GB (1e9 bytes) moved, per relay process. */
  cpuPerGB: Record<string, number>
  /** Busy fraction of one core during the transfer, per process (what limits the rate). */
  busy: Record<string, number>
}

interface ChurnResult { perSecond: number, errors: number, p50Ms: number, p99Ms: number, cpuPerThousand: Record<string, number>, busy: Record<string, number> }
interface LatencyResult { p50Ms: number, p99Ms: number, samples: number, errors: number, open: number }
interface RssResult { streams: number, serverBytes: number, clientBytes: number, serverIdleBytes: number, clientIdleBytes: number, openSeconds: number }

type Outcome<T> = { ok: T } | { skipped: string }

interface Target { child: Child, sinkPort: number, replyPort: number }

async function startTarget (): Promise<Target> {
  const child = spawnChild('target', process.execPath, [libJs('target')], { stdinPipe: true })
  const ready = await nextJson<{ sinkPort: number, replyPort: number }>(child, 10_000, (v) => 'sinkPort' in v)
  return { child, ...ready }
}

/** Samples CPU seconds of processes while they run, since short-lived ones vanish from /proc. */
class CpuSampler {
  private readonly first = new Map<string, number>()
  private readonly last = new Map<string, number>()
  private readonly timer: NodeJS.Timeout
  constructor (private readonly pids: Map<string, number>) {
    this.sample()
    for (const [name, value] of this.last) this.first.set(name, value)
    this.timer = setInterval(() => this.sample(), 200)
  }

  add (name: string, pid: number): void { this.pids.set(name, pid); this.first.set(name, 0) }

  sample (): void {
    for (const [name, pid] of this.pids) {
      const value = cpuSeconds(pid)
      if (value > 0 || !this.last.has(name)) this.last.set(name, value)
    }
  }

  stop (): Map<string, number> {
    this.sample()
    clearInterval(this.timer)
    const used = new Map<string, number>()
    for (const [name, value] of this.last) used.set(name, value - (this.first.get(name) ?? 0))
    return used
  }
}

function relayPids (relay: Relay): Map<string, number> {
  return new Map(relay.processes.map((p) => [p.name, p.pid]))
}

async function measureStreams (relay: Relay, target: Target, streams: number, bytesPerStream: number): Promise<ThroughputResult> {
  const sinkEvents: Array<{ bytes: number, firstMs: number, lastMs: number }> = []
  let resolveAll: () => void = () => {}
  const allDone = new Promise<void>((resolve) => { resolveAll = resolve })
  // Readiness probes connect and close without data: only streams that carried bytes count.
  const onSinkLine = (line: string): void => {
    if (!line.includes('"sink"')) return
    const event = JSON.parse(line) as { bytes: number, firstMs: number, lastMs: number }
    if (event.bytes === 0) return
    sinkEvents.push(event)
    if (sinkEvents.length >= streams) resolveAll()
  }
  target.child.onLine(onSinkLine)
  const pids = relayPids(relay)
  pids.set('target', target.child.pid)
  const sampler = new CpuSampler(pids)
  const sources: Child[] = []
  for (let i = 0; i < streams; i++) {
    // socat reads /dev/zero at C speed with 256 KiB buffers: the source is never the limit.
    const source = spawnChild(`source ${i}`, 'socat', ['-u', '-b', '262144', `/dev/zero,readbytes=${bytesPerStream}`, `TCP:127.0.0.1:${relay.entryPort}`])
    sources.push(source)
    sampler.add(`source ${i}`, source.pid)
  }
  // Bounded in time: even 0.2 Gbit/s finishes 2 GiB within 90 s.
  const limitMs = 15_000 + (streams * bytesPerStream * 8) / 0.2e9 * 1000
  const timeout = sleep(limitMs).then(() => 'timeout' as const)
  const outcome = await Promise.race([allDone.then(() => 'done' as const), timeout])
  for (const source of sources) await stopChild(source, 500)
  await sleep(300) // let socat reap its forked children so their CPU time is counted
  target.child.offLine(onSinkLine)
  const used = sampler.stop()
  if (outcome === 'timeout') throw new Error(`${relay.tool}: ${sinkEvents.length} of ${streams} streams finished within ${Math.round(limitMs / 1000)} s`)
  const bytes = sinkEvents.reduce((n, e) => n + e.bytes, 0)
  if (bytes !== streams * bytesPerStream) throw new Error(`${relay.tool}: sink counted ${bytes} bytes, expected ${streams * bytesPerStream}`)
  const seconds = (Math.max(...sinkEvents.map((e) => e.lastMs)) - Math.min(...sinkEvents.map((e) => e.firstMs))) / 1000
  const cpuPerGB: Record<string, number> = {}
  const busy: Record<string, number> = {}
  for (const [name, cpu] of used) {
    busy[name] = cpu / seconds
    if (relay.processes.some((p) => p.name === name)) cpuPerGB[name] = cpu / (bytes / 1e9)
  }
  return { gbitPerSec: (bytes * 8) / seconds / 1e9, seconds, bytes, cpuPerGB, busy }
}

async function measureChurn (relay: Relay, target: Target, settings: Settings): Promise<ChurnResult> {
  const pids = relayPids(relay)
  pids.set('target', target.child.pid)
  const sampler = new CpuSampler(pids)
  const load = spawnChild('load churn', process.execPath, [libJs('load'), 'churn', String(relay.entryPort), String(settings.churnSeconds), String(settings.churnConcurrency)])
  sampler.add('load', load.pid)
  const result = await nextJson<{ perSecond: number, errors: number, p50Ms: number, p99Ms: number, connections: number }>(load, settings.churnSeconds * 1000 + 20_000)
  await sleep(300)
  const used = sampler.stop()
  const cpuPerThousand: Record<string, number> = {}
  const busy: Record<string, number> = {}
  for (const [name, cpu] of used) {
    busy[name] = cpu / settings.churnSeconds
    if (relay.processes.some((p) => p.name === name)) cpuPerThousand[name] = cpu / (result.connections / 1000)
  }
  return { ...result, cpuPerThousand, busy }
}

async function measureLatency (relay: Relay, settings: Settings): Promise<LatencyResult> {
  const load = spawnChild('load latency', process.execPath, [libJs('load'), 'latency', String(relay.entryPort), String(settings.latencyConnections), String(settings.latencyRate), String(settings.latencySeconds)])
  return await nextJson<LatencyResult>(load, settings.latencySeconds * 1000 + 60_000)
}

async function measureRss (relay: Relay, settings: Settings): Promise<RssResult> {
  const [client, server] = relay.processes as [Child, Child]
  const clientIdleBytes = rssBytes(client.pid) ?? NaN
  const serverIdleBytes = rssBytes(server.pid) ?? NaN
  const load = spawnChild('load hold', process.execPath, [libJs('load'), 'hold', String(relay.entryPort), String(settings.idleStreams)], { stdinPipe: true })
  try {
    const ready = await nextJson<{ open: number, errors: number, elapsedS: number }>(load, 120_000)
    await sleep(2000) // let the heaps settle as they would on an idle server
    return {
      streams: ready.open,
      serverBytes: rssBytes(server.pid) ?? NaN,
      clientBytes: rssBytes(client.pid) ?? NaN,
      serverIdleBytes,
      clientIdleBytes,
      openSeconds: ready.elapsedS,
    }
  } finally {
    load.process.stdin?.end()
    await stopChild(load, 3000)
  }
}

// ---- report

interface Results {
  single: Map<ToolName, Outcome<ThroughputResult>>
  parallel: Map<ToolName, Outcome<ThroughputResult>>
  churn: Map<ToolName, Outcome<ChurnResult>>
  latency: Map<ToolName, Outcome<LatencyResult>>
  rss: Outcome<RssResult> | undefined
}

const MiB = 2 ** 20
const fmt = (n: number, digits = 2): string => Number.isFinite(n) ? n.toFixed(digits) : '–'
const ratio = (a: number | undefined, b: number | undefined): string => a === undefined || b === undefined || !(a > 0) || !(b > 0) ? '–' : `${(a / b).toFixed(2)}x`

function valueOf<T> (outcome: Outcome<T> | undefined): T | undefined {
  return outcome !== undefined && 'ok' in outcome ? outcome.ok : undefined
}

function cell<T> (outcome: Outcome<T> | undefined, show: (v: T) => string): string {
  if (outcome === undefined) return '(not run)'
  return 'ok' in outcome ? show(outcome.ok) : outcome.skipped
}

function table (header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((h, i) => i === 0 ? '---' : '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

function render (results: Results, settings: Settings, tools: ToolName[]): string {
  const out: string[] = []
  const throughputRows = (map: Map<ToolName, Outcome<ThroughputResult>>): string[][] => tools.map((tool) => {
    const o = map.get(tool)
    const v = valueOf(o)?.gbitPerSec
    const cpu = valueOf(o)?.cpuPerGB ?? {}
    const cpuText = Object.keys(cpu).length === 0 ? '–' : Object.entries(cpu).map(([n, s]) => `${n.replace(/^stunnel4 |^gst-/, '')} ${fmt(s)}`).join(', ')
    return [tool, cell(o, (r) => fmt(r.gbitPerSec)), ratio(v, valueOf(map.get('stunnel4'))?.gbitPerSec), ratio(v, valueOf(map.get('socat'))?.gbitPerSec), cpuText]
  })
  if (settings.tests.includes('single')) {
    out.push(`### (a) One stream of ${fmt(settings.bytes / 2 ** 30, 2)} GiB`, '',
      table(['relay', 'Gbit/s', 'vs stunnel4', 'vs socat', 'relay CPU s per GB'], throughputRows(results.single)), '')
  }
  if (settings.tests.includes('parallel')) {
    out.push(`### (b) ${settings.parallelStreams} parallel streams, ${fmt(settings.bytes / 2 ** 30, 2)} GiB in total`, '',
      table(['relay', 'Gbit/s', 'vs stunnel4', 'vs socat', 'relay CPU s per GB'], throughputRows(results.parallel)), '')
  }
  if (settings.tests.includes('churn')) {
    out.push(`### (c) Connection churn (${settings.churnConcurrency} at a time, 100-byte request, 1 KiB reply, ${settings.churnSeconds} s)`, '',
      table(['relay', 'conn/s', 'vs stunnel4', 'vs socat', 'conn p50 ms', 'conn p99 ms', 'relay CPU s per 1000 conn'], tools.map((tool) => {
        const o = results.churn.get(tool)
        const v = valueOf(o)?.perSecond
        const cpu = valueOf(o)?.cpuPerThousand ?? {}
        const cpuText = Object.keys(cpu).length === 0 ? '–' : Object.entries(cpu).map(([n, s]) => `${n.replace(/^stunnel4 |^gst-/, '')} ${fmt(s)}`).join(', ')
        return [tool, cell(o, (r) => `${fmt(r.perSecond, 0)}${r.errors > 0 ? ` (${r.errors} errors)` : ''}`), ratio(v, valueOf(results.churn.get('stunnel4'))?.perSecond),
          ratio(v, valueOf(results.churn.get('socat'))?.perSecond), cell(o, (r) => fmt(r.p50Ms)), cell(o, (r) => fmt(r.p99Ms)), cpuText]
      })), '')
  }
  if (settings.tests.includes('latency')) {
    const direct = valueOf(results.latency.get('direct'))
    out.push(`### (c) Request/response latency over ${settings.latencyConnections} open connections (${settings.latencyRate} requests/s in total, ${settings.latencySeconds} s)`, '',
      table(['relay', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'samples'], tools.map((tool) => {
        const o = results.latency.get(tool)
        return [tool, cell(o, (r) => fmt(r.p50Ms, 3)), cell(o, (r) => fmt(r.p99Ms, 3)),
          cell(o, (r) => direct === undefined ? '–' : fmt(r.p50Ms - direct.p50Ms, 3)),
          cell(o, (r) => direct === undefined ? '–' : fmt(r.p99Ms - direct.p99Ms, 3)),
          cell(o, (r) => `${r.samples}${r.errors > 0 ? ` (${r.errors} errors)` : ''}${r.open < settings.latencyConnections ? ` (${r.open} open)` : ''}`)]
      })), '')
  }
  if (settings.tests.includes('rss')) {
    const r = results.rss
    out.push(`### (d) Memory with ${settings.idleStreams} open idle streams`, '')
    if (r === undefined || !('ok' in r)) out.push(`gst: ${r === undefined ? '(not run)' : r.skipped}`, '')
    else {
      out.push(table(['process', 'VmRSS idle MiB', `VmRSS with ${r.ok.streams} streams MiB`, 'KiB per stream'], [
        ['gst-server', fmt(r.ok.serverIdleBytes / MiB, 1), fmt(r.ok.serverBytes / MiB, 1), fmt((r.ok.serverBytes - r.ok.serverIdleBytes) / r.ok.streams / 1024, 1)],
        ['gst-client', fmt(r.ok.clientIdleBytes / MiB, 1), fmt(r.ok.clientBytes / MiB, 1), fmt((r.ok.clientBytes - r.ok.clientIdleBytes) / r.ok.streams / 1024, 1)],
      ]), '', `(${r.ok.streams} streams opened in ${fmt(r.ok.openSeconds, 1)} s, one round trip each, then idle for 2 s before reading /proc/PID/status.)`, '')
    }
  }
  return out.join('\n')
}

function targetsSummary (results: Results): string[] {
  const lines: string[] = []
  const single = valueOf(results.single.get('gst'))?.gbitPerSec
  const stunnel = valueOf(results.single.get('stunnel4'))?.gbitPerSec
  const churn = valueOf(results.churn.get('gst'))?.perSecond
  const socat = valueOf(results.churn.get('socat'))?.perSecond
  const rss = valueOf(results.rss)
  const verdict = (ok: boolean): string => ok ? 'met' : 'NOT met'
  if (single !== undefined && stunnel !== undefined) lines.push(`- single stream >= 0.8x stunnel4: ${ratio(single, stunnel)} (${verdict(single >= 0.8 * stunnel)})`)
  if (churn !== undefined && socat !== undefined) lines.push(`- connection churn >= 1.0x socat: ${ratio(churn, socat)} (${verdict(churn >= socat)})`)
  if (rss !== undefined) lines.push(`- gst-server RSS with ${rss.streams} idle streams <= 150 MiB: ${fmt(rss.serverBytes / MiB, 1)} MiB (${verdict(rss.serverBytes <= 150 * MiB)})`)
  return lines
}

/** The commit measured, and whether gst's sources differed from it in the working tree. */
function revision (): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'cmd'], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter((l) => l.length > 3)
    return dirty.length === 0 ? `gst at ${commit}` : `gst at ${commit} plus uncommitted changes in ${dirty.map((l) => l.slice(3)).join(', ')}`
  } catch {
    return 'gst at an unknown revision'
  }
}

function versions (): string {
  const version = (cmd: string, args: string[], pattern: RegExp): string => {
    try {
      // stunnel prints its version on stderr.
      const text = execFileSync('sh', ['-c', `${[cmd, ...args].join(' ')} 2>&1`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      return pattern.exec(text)?.[1] ?? '?'
    } catch (err) {
      const text = String((err as { stderr?: string }).stderr ?? '')
      return pattern.exec(text)?.[1] ?? 'not installed'
    }
  }
  return `node ${process.version}, socat ${version('socat', ['-V'], /socat version (\S+)/)}, stunnel ${version('stunnel4', ['-version'], /stunnel (\S+)/)}, ` +
    `${version('openssl', ['version'], /^(OpenSSL \S+)/)}`
}

const SECTION = '## Pipe (npm run bench:pipe)'

function writeBenchmarks (body: string): string {
  const file = join(repoRoot, 'BENCHMARKS.md')
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'
  const start = previous.indexOf(`\n${SECTION}\n`)
  let next: string
  if (start < 0) next = `${previous.trimEnd()}\n\n${body.trimEnd()}\n`
  else {
    const after = previous.indexOf('\n## ', start + SECTION.length + 1)
    next = `${previous.slice(0, start + 1)}${body.trimEnd()}\n${after < 0 ? '' : `\n${previous.slice(after + 1)}`}`
  }
  writeFileSync(file, next)
  return file
}

// ---- main

async function main (): Promise<void> {
  installCleanup()
  const settings = parseArgs(process.argv.slice(2))
  const startedAt = new Date()
  const tools = settings.tools
  const results: Results = { single: new Map(), parallel: new Map(), churn: new Map(), latency: new Map(), rss: undefined }
  const logLines: string[] = []
  const log = (line: string): void => { logLines.push(line); process.stderr.write(`${line}\n`) }
  if (settings.cpuProfDir !== undefined) mkdirSync(settings.cpuProfDir, { recursive: true })
  log(`bench:pipe: ${tools.join(', ')}; tests ${settings.tests.join(', ')}; ${os.cpus().length} CPUs; children run with ulimit -n ${OPEN_FILES_LIMIT}`)

  const machineAtStart = machineBusySeconds()
  const ownAtStart = ownTreeSeconds()
  const wallAtStart = performance.now()
  const target = await startTarget()
  try {
    const run = async <T>(tool: ToolName, test: TestName, targetPort: number, map: Map<ToolName, Outcome<T>>, measure: (relay: Relay) => Promise<T>, describe: (v: T) => string, nodeArgs: string[] = []): Promise<void> => {
      const missing = missingReason(tool)
      if (missing !== undefined) { map.set(tool, { skipped: missing }); return }
      let relay: Relay | undefined
      try {
        relay = await startRelay(tool, targetPort, { gstNodeArgs: nodeArgs, gstArgs: settings.gstArgs })
        const value = await measure(relay)
        map.set(tool, { ok: value })
        log(`  ${test.padEnd(8)} ${tool.padEnd(8)} ${describe(value)}`)
      } catch (err) {
        map.set(tool, { skipped: `failed: ${(err as Error).message.split('\n')[0]!.slice(0, 120)}` })
        log(`  ${test.padEnd(8)} ${tool.padEnd(8)} FAILED: ${(err as Error).message}`)
      } finally {
        await relay?.stop()
      }
    }
    const busyText = (r: ThroughputResult): string => `${fmt(r.gbitPerSec)} Gbit/s in ${fmt(r.seconds)} s; busy ${Object.entries(r.busy).filter(([, b]) => b > 0.05).map(([n, b]) => `${n} ${Math.round(b * 100)}%`).join(', ')}`
    if (settings.tests.includes('single')) {
      for (const tool of tools) {
        const profArgs = tool !== 'gst' ? [] : [...(settings.cpuProfDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : []), ...settings.gstNodeArgs]
        await run(tool, 'single', target.sinkPort, results.single, async (relay) => await measureStreams(relay, target, 1, settings.bytes), busyText, profArgs)
      }
    }
    if (settings.tests.includes('parallel')) {
      const each = Math.floor(settings.bytes / settings.parallelStreams)
      for (const tool of tools) await run(tool, 'parallel', target.sinkPort, results.parallel, async (relay) => await measureStreams(relay, target, settings.parallelStreams, each), busyText)
    }
    if (settings.tests.includes('churn')) {
      for (const tool of tools) {
        await run(tool, 'churn', target.replyPort, results.churn, async (relay) => await measureChurn(relay, target, settings),
          (r) => `${fmt(r.perSecond, 0)} conn/s, ${r.errors} errors, p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms; busy ${Object.entries(r.busy).map(([n, b]) => `${n} ${Math.round(b * 100)}%`).join(', ')}`)
        await sleep(1000) // let TIME_WAIT-heavy runs settle a little
      }
    }
    if (settings.tests.includes('latency')) {
      for (const tool of tools) {
        await run(tool, 'latency', target.replyPort, results.latency, async (relay) => await measureLatency(relay, settings),
          (r) => `p50 ${fmt(r.p50Ms, 3)} ms, p99 ${fmt(r.p99Ms, 3)} ms over ${r.open} connections, ${r.samples} samples, ${r.errors} errors`)
      }
    }
    if (settings.tests.includes('rss')) {
      if (!tools.includes('gst')) results.rss = { skipped: 'gst not selected' }
      else {
        const map = new Map<ToolName, Outcome<RssResult>>()
        await run('gst', 'rss', target.replyPort, map, async (relay) => await measureRss(relay, settings),
          (r) => `gst-server ${fmt(r.serverBytes / MiB, 1)} MiB, gst-client ${fmt(r.clientBytes / MiB, 1)} MiB with ${r.streams} streams`)
        results.rss = map.get('gst')
      }
    }
  } finally {
    target.child.process.stdin?.end()
    await stopChild(target.child, 1000)
  }

  // Other work on the machine skews every figure; say how much there was.
  const wallS = (performance.now() - wallAtStart) / 1000
  const foreignCores = Math.max(0, (machineBusySeconds() - machineAtStart) - (ownTreeSeconds() - ownAtStart)) / wallS
  const loadNote = `Other processes on the machine used ${fmt(foreignCores, 2)} of ${os.cpus().length} cores on average during this ${fmt(wallS, 0)} s run${foreignCores > 0.2 ? ' (figures are skewed by that load; compare within the run)' : ''}.`
  log(loadNote)
  const command = `npm run bench:pipe${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  const tablesText = render(results, settings, tools)
  const summary = targetsSummary(results)
  process.stdout.write(`\n${tablesText}\n${summary.length > 0 ? `Targets of issue 2:\n${summary.join('\n')}\n` : ''}`)

  // Only a run of every test with every tool replaces the recorded figures.
  const fullRun = !settings.quick && settings.bytes >= 2 * 2 ** 30 && settings.tests.length === TESTS.length && settings.tools.length === TOOLS.length
  if (settings.write ?? fullRun) {
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
    const body = [
      SECTION, '',
      `Command: \`${command}\` — run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} × ${cpu.trim()}, ${os.type()} ${os.release()}; ${versions()}; ${revision()}.`, '',
      'Everything on loopback, each part its own process: a Node target (a counting sink, and a server answering every 100-byte request with 1 KiB), ' +
      '`socat -u /dev/zero,readbytes=N` as the stream source, a Node load generator for connection tests, and the relay under test: ' +
      'socat (`-b 131072 TCP-LISTEN:…,fork TCP:…`), stunnel4 (client and server instances, TLS 1.3, self-signed ECDSA P-256 certificate verified by the client), ' +
      'gst (`gst-client` → `gst-server`, default options). Children run with `ulimit -n 65536`. Throughput counts bytes at the sink, from its first to its last byte. ' +
      'Relay CPU is user+sys from /proc/PID/stat (socat: including its forked children). "Added" latency is the relay\'s percentile minus the direct connection\'s.', '',
      loadNote, '',
      tablesText.trimEnd(), '',
      ...(summary.length > 0 ? ['Targets of issue 2:', '', ...summary, ''] : []),
      'Run log ("busy" is CPU time over wall time for each process: 100% is one core, so it shows what limits a figure):', '',
      '```', ...logLines.filter((l) => l.startsWith('  ')).map((l) => l.slice(2)), '```', '',
    ].join('\n')
    const file = writeBenchmarks(body)
    log(`wrote ${file}`)
  } else {
    log('BENCHMARKS.md not written (a quick or partial run; pass --write to record it)')
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
