/**
 * Shared by the VPN tests (test/netns/vpn.test.ts) and benchmarks (bench/vpn.ts, bench/bonding.ts):
 * namespaces joined by veths, ttt processes inside them with their closing counters parsed,
 * iperf3 runs (JSON), CPU time from /proc, the UDP "NAT box" relay, and a small SVG plot.
 * Everything runs inside namespaces this module creates (addresses 10.x inside them only).
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)
// The programs of the same build as this module (dist/cmd/ beside dist/bench/), so a copy of dist/
// runs its own ttt: an A/B from two copies compares the two builds, not the checkout's.
export const tttPath = fileURLToPath(new URL('../../cmd/ttt.js', import.meta.url))
export const gstPath = fileURLToPath(new URL('../../cmd/gst.js', import.meta.url))
export const relayPath = fileURLToPath(new URL('./udp-relay.js', import.meta.url))

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

/** A fresh pre-shared key (base64 text) from `gst keygen`. */
export function keygen (): string {
  const out = spawnSync(process.execPath, [gstPath, 'keygen'], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`gst keygen failed: ${out.stderr}`)
  return out.stdout.trim()
}

// ---- namespaces joined by veths

let topologies = 0
const liveNamespaces = new Set<string>()
let hooks = false
function killNamespace (ns: string): void {
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean)
  for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
  spawnSync('ip', ['netns', 'del', ns])
  liveNamespaces.delete(ns)
}
function installHooks (): void {
  if (hooks) return
  hooks = true
  process.on('exit', () => { for (const ns of [...liveNamespaces]) killNamespace(ns) })
}

/**
 * A star of namespaces: `hub` (the server) and spokes, each spoke joined to the hub by its own
 * veth. Spoke i has 10.B.(i+1).1/24, the hub 10.B.(i+1).2 on that veth.
 */
export class VethStar {
  readonly hub: string
  readonly spokes: string[]
  readonly block: number
  private constructor (readonly prefix: string, spokeCount: number) {
    this.hub = `${prefix}-h`
    this.spokes = Array.from({ length: spokeCount }, (_, i) => `${prefix}-${i}`)
    this.block = 16 + ((process.pid + 97) % 200)
  }

  static create (spokeCount: number): VethStar {
    installHooks()
    const prefix = `tv${process.pid.toString(36)}_${topologies++}`
    const star = new VethStar(prefix, spokeCount)
    for (const ns of [star.hub, ...star.spokes]) {
      killNamespace(ns)
      spawnSync('ip', ['netns', 'add', ns])
      liveNamespaces.add(ns)
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    }
    star.spokes.forEach((ns, i) => {
      const a = `${prefix}a${i}`
      const b = `${prefix}b${i}`
      run('ip', ['link', 'add', a, 'netns', ns, 'type', 'veth', 'peer', 'name', b, 'netns', star.hub])
      run('ip', ['-n', ns, 'addr', 'add', `${star.spokeAddress(i)}/24`, 'dev', a])
      run('ip', ['-n', star.hub, 'addr', 'add', `${star.hubAddress(i)}/24`, 'dev', b])
      run('ip', ['-n', ns, 'link', 'set', a, 'up'])
      run('ip', ['-n', star.hub, 'link', 'set', b, 'up'])
    })
    return star
  }

  spokeAddress (i: number): string { return `10.${this.block}.${i + 1}.1` }
  hubAddress (i: number): string { return `10.${this.block}.${i + 1}.2` }

  destroy (): void {
    for (const ns of [this.hub, ...this.spokes]) killNamespace(ns)
  }
}

function run (cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`)
  return r.stdout
}

export async function nsExec (ns: string, cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<{ stdout: string, stderr: string }> {
  try {
    return await execFileAsync('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 })
  } catch (error) {
    const e = error as { stderr?: string, stdout?: string, message: string }
    throw new Error(`${ns}: ${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}\n${(e.stdout ?? '').slice(-2000)}`)
  }
}

// ---- processes inside a namespace

const allProcs = new Set<NsProcess>()
process.on('exit', () => { for (const p of allProcs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL') })

/** A long-running process in a namespace (ip netns exec execs it: same pid), its output kept. */
export class NsProcess {
  readonly lines: string[] = []
  readonly exited: Promise<number | string>
  private readonly waiters = new Set<() => void>()
  constructor (readonly name: string, readonly child: ChildProcess) {
    allProcs.add(this)
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue
      createInterface({ input: stream }).on('line', (l) => { this.lines.push(l); for (const w of this.waiters) w() })
    }
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => { allProcs.delete(this); for (const w of this.waiters) w(); resolve(code ?? signal ?? 'unknown') }))
  }

  static spawn (name: string, ns: string, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): NsProcess {
    return new NsProcess(name, spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } }))
  }

  get pid (): number { return this.child.pid! }
  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }
  get text (): string { return this.lines.join('\n') }

  async waitFor (re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const line = this.lines.find((l) => re.test(l))
      if (line !== undefined) return line
      if (!this.running) throw new Error(`${this.name} exited before printing ${re}:\n${this.text.slice(-3000)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${this.name} to print ${re}:\n${this.text.slice(-3000)}`)
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(t); this.waiters.delete(done); resolve() }
        const t = setTimeout(done, Math.min(left, 200))
        this.waiters.add(done)
      })
    }
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
  async stop (graceMs = 3000): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGTERM')
    const t = setTimeout(() => { if (this.running) this.child.kill('SIGKILL') }, graceMs)
    await this.exited
    clearTimeout(t)
  }

  kill (): void { if (this.running) this.child.kill('SIGKILL') }

  /** user + system CPU seconds so far, from /proc/PID/stat. */
  cpuSeconds (): number { return cpuSecondsOf(this.pid) }
}

const CLK_TCK = 100
export function cpuSecondsOf (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK   // utime, stime (fields 14 and 15)
  } catch { return NaN }
}

// ---- ttt

export interface TttOptions { key: string, extra?: string[], logLevel?: string }

export function startTttServer (ns: string, listen: string, address: string, opts: TttOptions): NsProcess {
  return NsProcess.spawn(`ttt server ${ns}`, ns, process.execPath, [tttPath, 'server', '--listen', listen, '--key', 'env:TTT_TEST_KEY', '--address', address,
    ...(opts.logLevel ? ['--log-level', opts.logLevel] : []), ...(opts.extra ?? [])], { TTT_TEST_KEY: opts.key })
}

export function startTttClient (ns: string, server: string, address: string, paths: string[], opts: TttOptions): NsProcess {
  return NsProcess.spawn(`ttt client ${ns}`, ns, process.execPath, [tttPath, 'client', '--server', server, '--key', 'env:TTT_TEST_KEY', ...(address ? ['--address', address] : []),
    ...paths.flatMap((p) => ['--path', p]), ...(opts.logLevel ? ['--log-level', opts.logLevel] : []), ...(opts.extra ?? [])], { TTT_TEST_KEY: opts.key })
}

export interface UdpStats { readPackets: number, readBytes: number, writePackets: number, writeBytes: number, writeEagain: number, writeErrors: number, readErrors: number }
export interface ReorderStats { delivered: number, held: number, skipped: number, duplicates: number, late: number, holding: number, maxHolding: number }
/** `wait`: how the wait for a path with room went (src/vpn/wait-queue.ts), when the build reports it. */
export interface PeerSummary { name: string, tx: number, rx: number, refused: number, repairs: number, reorder: ReorderStats, wait?: WaitSummary }
export interface WaitSummary { refusedAged: number, refusedCeiling?: number, refusedFull: number, maxCount: number, maxWaitMs: number }
export interface Closing {
  line: string
  udp: UdpStats[]
  tun: UdpStats | undefined
  errors: Record<string, number>
  /** Client: its own counters; server: one per client. */
  peers: PeerSummary[]
  /** Client only: name:state:srtt per path. */
  paths: string[]
  noRoute: number
}

function jsonAfter (line: string, marker: string): unknown {
  const at = line.indexOf(marker)
  if (at < 0) return undefined
  const start = at + marker.length
  const open = line[start]!
  const close = open === '[' ? ']' : '}'
  let depth = 0
  for (let i = start; i < line.length; i++) {
    if (line[i] === open) depth++
    else if (line[i] === close && --depth === 0) return JSON.parse(line.slice(start, i + 1))
  }
  return undefined
}

/** Parses the "ttt client closing: ..." / "ttt server closing: ..." line. */
export function parseClosing (line: string): Closing {
  const udp = jsonAfter(line, ' udp ')
  const rawErrors = (jsonAfter(line, ' errors ') ?? {}) as Record<string, number | { count: number }>
  const errors: Record<string, number> = {}
  for (const [k, v] of Object.entries(rawErrors)) errors[k] = typeof v === 'number' ? v : v.count
  const peers: PeerSummary[] = []
  const peerRe = /(?:^|closing: |; |\} )(?:(\S+): )?tx (\d+) rx (\d+) refused (\d+) repairs (\d+) reorder (\{[^}]*\})(?: wait (\{[^}]*\}))?/g
  for (const m of line.matchAll(peerRe)) {
    peers.push({ name: m[1] ?? 'server', tx: Number(m[2]), rx: Number(m[3]), refused: Number(m[4]), repairs: Number(m[5]), reorder: JSON.parse(m[6]!) as ReorderStats, ...(m[7] ? { wait: JSON.parse(m[7]) as WaitSummary } : {}) })
  }
  const paths = /paths (.*?) errors /.exec(line)?.[1]?.split(' ').filter(Boolean) ?? []
  return {
    line,
    udp: (Array.isArray(udp) ? udp : udp ? [udp] : []) as UdpStats[],
    tun: jsonAfter(line, ' tun ') as UdpStats | undefined,
    errors,
    peers,
    paths,
    noRoute: Number(/no-route (\d+)/.exec(line)?.[1] ?? 0),
  }
}

/** Stops a ttt process and returns its parsed closing line. */
export async function stopTtt (p: NsProcess): Promise<Closing> {
  await p.stop()
  const line = p.lines.find((l) => / ttt (client|server) closing: /.test(l))
  if (line === undefined) throw new Error(`${p.name} logged no closing line:\n${p.text.slice(-3000)}`)
  return parseClosing(line)
}

// ---- iperf3

export interface IperfInterval { start: number, end: number, bitsPerSecond: number, retransmits: number }
export interface IperfResult {
  seconds: number, sentBps: number, receivedBps: number, retransmits: number
  /** The sender's intervals (bytes written into its socket). */
  intervals: IperfInterval[]
  /** The receiver's intervals (with --get-server-output when the server receives): what arrived when. */
  receiverIntervals: IperfInterval[]
}

export function parseIperf (text: string): IperfResult {
  const j = JSON.parse(text) as {
    error?: string
    intervals: Array<{ sum: { start: number, end: number, bits_per_second: number, retransmits?: number } }>
    end: { sum_sent: { seconds: number, bits_per_second: number, retransmits?: number }, sum_received: { bits_per_second: number } }
    server_output_json?: { intervals: Array<{ sum: { start: number, end: number, bits_per_second: number } }> }
  }
  if (j.error) throw new Error(`iperf3: ${j.error}`)
  return {
    seconds: j.end.sum_sent.seconds,
    sentBps: j.end.sum_sent.bits_per_second,
    receivedBps: j.end.sum_received.bits_per_second,
    retransmits: j.end.sum_sent.retransmits ?? 0,
    intervals: j.intervals.map((i) => ({ start: i.sum.start, end: i.sum.end, bitsPerSecond: i.sum.bits_per_second, retransmits: i.sum.retransmits ?? 0 })),
    receiverIntervals: (j.server_output_json?.intervals ?? []).map((i) => ({ start: i.sum.start, end: i.sum.end, bitsPerSecond: i.sum.bits_per_second, retransmits: 0 })),
  }
}

/** An iperf3 server for one test (-1), bound to `bind`; resolves once it listens. */
export async function iperfServer (ns: string, bind: string, port: number, extra: string[] = []): Promise<NsProcess> {
  const p = NsProcess.spawn(`iperf3 -s ${ns}`, ns, 'iperf3', ['-s', '-1', '--forceflush', '-B', bind, '-p', String(port), ...extra])
  await p.waitFor(/Server listening/, 5000)
  return p
}

/** Runs one iperf3 TCP client run; `args` e.g. ['-t', '5', '-i', '0.5']. */
export async function iperfClient (ns: string, server: string, port: number, args: string[], bind?: string): Promise<IperfResult> {
  const seconds = Number(args[args.indexOf('-t') + 1] ?? 10)
  const { stdout } = await nsExec(ns, 'iperf3', ['-c', server, '-p', String(port), '--json', ...(bind ? ['-B', bind] : []), ...args], (seconds + 30) * 1000)
  return parseIperf(stdout)
}

/** Runs ping and returns loss % and rtt avg/max. */
export async function ping (ns: string, target: string, count: number, intervalS: number, extra: string[] = []): Promise<{ lossPct: number, avgMs: number, maxMs: number, minMs: number, rtts: number[] }> {
  let stdout: string
  try {
    stdout = (await nsExec(ns, 'ping', ['-n', '-c', String(count), '-i', String(intervalS), '-W', '1', ...extra, target], (count * intervalS + 10) * 1000)).stdout
  } catch (error) {
    stdout = String((error as Error).message)
  }
  const loss = /([\d.]+)% packet loss/.exec(stdout)
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(stdout)
  const rtts = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))
  return { lossPct: loss ? Number(loss[1]) : 100, minMs: rtt ? Number(rtt[1]) : NaN, avgMs: rtt ? Number(rtt[2]) : NaN, maxMs: rtt ? Number(rtt[3]) : NaN, rtts }
}

// ---- the relay (bench/lib/udp-relay.ts) driven over stdin

export class Relay {
  private constructor (readonly proc: NsProcess) {}
  /** Starts the relay in `ns`: listens on listen:port, forwards from sockets bound to `upstreamBind` to server:port. */
  static async start (ns: string, listen: string, port: number, upstreamBind: string, server: string, serverPort: number): Promise<Relay> {
    const proc = NsProcess.spawn(`relay ${ns}`, ns, process.execPath, [relayPath, listen, String(port), upstreamBind, server, String(serverPort)])
    await proc.waitFor(/^ready/, 5000)
    return new Relay(proc)
  }

  private seq = 0
  /** Sends one command; resolves with its JSON reply. */
  async command (line: string): Promise<Record<string, unknown>> {
    const id = ++this.seq
    this.proc.child.stdin!.write(`${id} ${line}\n`)
    const reply = await this.proc.waitFor(new RegExp(`^${id} `), 5000)
    return JSON.parse(reply.slice(String(id).length + 1)) as Record<string, unknown>
  }

  async stop (): Promise<void> { await this.proc.stop() }
}

// ---- environment

export function loadAverage (): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

// ---- SVG plot

export interface Series { name: string, points: Array<[number, number]> }

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']

/** A line plot of several series against time; `marks` draw vertical lines (e.g. a cut). */
export function writeSvgPlot (file: string, title: string, yLabel: string, series: Series[], marks: Array<{ x: number, label: string }> = []): void {
  const W = 760; const H = 360; const L = 60; const R = 150; const T = 30; const B = 40
  const xs = series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = series.flatMap((s) => s.points.map((p) => p[1]))
  const xMax = Math.max(1e-9, ...xs, ...marks.map((m) => m.x))
  const yMax = niceCeil(Math.max(1e-9, ...ys))
  const X = (x: number): number => L + (x / xMax) * (W - L - R)
  const Y = (y: number): number => H - B - (y / yMax) * (H - T - B)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="18" font-size="13">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">time (s)</text>`,
    `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  ]
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5
    parts.push(`<line x1="${L - 4}" y1="${Y(y)}" x2="${W - R}" y2="${Y(y)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${Y(y) + 4}" text-anchor="end">${fmt(y)}</text>`)
    const x = (xMax * i) / 5
    parts.push(`<text x="${X(x)}" y="${H - B + 14}" text-anchor="middle">${fmt(x)}</text>`)
  }
  for (const m of marks) parts.push(`<line x1="${X(m.x)}" y1="${T}" x2="${X(m.x)}" y2="${H - B}" stroke="#888" stroke-dasharray="4 3"/>`, `<text x="${X(m.x) + 3}" y="${T + 10}" fill="#555">${esc(m.label)}</text>`)
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    if (s.points.length > 0) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`)
    parts.push(`<rect x="${W - R + 10}" y="${T + i * 16}" width="12" height="3" fill="${color}"/>`, `<text x="${W - R + 26}" y="${T + i * 16 + 5}">${esc(s.name)}</text>`)
  })
  parts.push('</svg>')
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, parts.join('\n') + '\n')
}

function niceCeil (v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p
  return 10 * p
}
function fmt (v: number): string { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2) }
function esc (s: string): string { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;') }

/** Formats rows as an aligned text table. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** A markdown table. */
export function markdownTable (header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}
