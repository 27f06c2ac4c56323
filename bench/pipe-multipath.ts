/**
 * The pipe over several links (issue 6's targets), in the lab: l1 = 20 Mbit/s, 10 ms one-way;
 * l2 = 10 Mbit/s, 60 ms one-way; 100-packet queues. gst-server in the server namespace in front of
 * a tcp-flow sink (bench/lib/tcp-flow.ts), gst-client in the client namespace, one TCP stream
 * (tcp-flow source) through the pipe, every stream's bytes checked by sha256 at both ends:
 *   - single-path pipe (no --path) over l1 alone, over l2 alone (unbound sockets routed over l2),
 *     and their sum; two paths (--path l1 --path l2): goodput and its ratio to the sum;
 *   - failover: l2 blackholed (lab.cut) while it carries part of the stream, restored 5 s later:
 *     byte-exact, the longest stall between reads, and the time until l2 carries data again (the
 *     lab's counters) and until its subflow is up again (the client's status, `gst show --json`);
 *   - loopback, inside the server namespace: one stream through a single-path pipe vs two paths
 *     (127.0.0.1 and 127.0.0.2), alternating, with the pipe's CPU seconds per GB.
 * Prints tables with the load average, writes a plot per lab run into bench/out/ (goodput, each
 * link's rate from the lab's counters) and the "## Pipe multipath" section of BENCHMARKS.md.
 * A gst-client without --path (before multipath) makes the two-path rows say so.
 *
 *   node dist/bench/pipe-multipath.js [--seconds 15] [--loopback-seconds 5] [--rounds 3] [--no-markdown] [--only SUBSTRING] [--cpu-prof DIR]
 * (--only runs the matching runs alone, no table or markdown; --cpu-prof writes V8 CPU profiles of
 * every gst-server and gst-client into DIR; V8 names them by pid, and the bench prints each instance's)
 */
import { benchArgs } from './lib/bench-args.js'
import { Lab, labUnavailableReason, type LinkConfig } from '../test/lab/lab.js'
import { NsProcess, keygen, ping, loadAverage, writeSvgPlot, table, markdownTable, sleep, type Series } from './lib/vpn.js'
import {
  sampleLinks, linkSeries, linkRateMbit, recentRateMbit, carriesDataAfterMs, flowReport, flowStalls, flowGoodputBps, flowSeries, slug,
  writeBenchmarkSection, tcpFlowPath, outDir, benchmarksFile, type FlowReport, type LinkSample,
} from './lib/lab-flow.js'
import {
  controlDir, startGstServer, startGstClient, waitForPaths, routeUnboundVia, pathFrom, sessionPaths, PathOptionUnsupported, type GstProcess,
} from './lib/pipe-lab.js'

const args = benchArgs('node dist/bench/pipe-multipath.js [--seconds 15] [--loopback-seconds 5] [--rounds 3] [--only SUBSTRING] [--cpu-prof DIR] [--no-markdown]',
  { seconds: 'number', 'loopback-seconds': 'number', rounds: 'number', only: 'string', 'cpu-prof': 'string', 'no-markdown': 'flag' })
const SECONDS = args.number('seconds', 15)
const LOOPBACK_SECONDS = args.number('loopback-seconds', 5)
const ROUNDS = args.number('rounds', 3)
/** Goodput counts from here on (slow start over a 60 ms path takes a while). */
const STEADY_FROM_S = 3
const LOOPBACK_STEADY_FROM_S = 1
const only = args.string('only', undefined)
const wanted = (name: string): boolean => only === undefined || name.includes(only)
const profDir = args.string('cpu-prof', undefined)
const nodeArgs = profDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []

const L1: LinkConfig = { delayMs: 10, rateMbit: 20, queuePkts: 100 }
const L2: LinkConfig = { delayMs: 60, rateMbit: 10, queuePkts: 100 }
const SERVER_PORT = 43210
const CLIENT_LISTEN = '127.0.0.1:1080'
const SINK = { host: '127.0.0.1', port: 7000 }
const SAMPLE_MS = 50
const STATUS_MS = 100
/** Time between the paths coming up and the stream starting (RTTs known, subflows settled). */
const IDLE_MS = 500
const TITLE = '## Pipe multipath (npm run bench:pipe-multipath)'

let lab: Lab
let key: string
let dir: string
let instances = 0

/** A client's per-subflow counters over time, from its control socket. */
interface StatusSample { tMs: number, paths: Array<{ local: string, state: string, bytesOut: number, rttMs: number | null }> }

function pollStatus (client: GstProcess, t0Ns: bigint): { stop: () => Promise<StatusSample[]> } {
  const samples: StatusSample[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      try {
        const r = await client.status()
        samples.push({ tMs: Number(lab.nowNs() - t0Ns) / 1e6, paths: sessionPaths(r).map((p) => ({ local: p.local, state: p.state, bytesOut: p.bytesOut, rttMs: p.rttMs })) })
      } catch { /* the client is going away */ }
      await sleep(STATUS_MS)
    }
  })()
  return { stop: async () => { running = false; await loop; return samples } }
}

interface Pipe { server: GstProcess, client: GstProcess, sink: NsProcess }

/** Sink, gst-server and gst-client; `paths`: lab link indexes for --path (none: one unbound path). */
async function pipe (ns: { client: string, server: string }, serverAddr: string, clientListen: string, sink: { host: string, port: number }, paths: string[] | undefined): Promise<Pipe> {
  const n = instances++
  const sinkProc = NsProcess.spawn('tcp-flow sink', ns.server, process.execPath, [tcpFlowPath, 'sink', sink.host, String(sink.port), ...(ns.server === ns.client ? ['--no-hash'] : [])])
  await sinkProc.waitFor(/^listening/)
  const server = await startGstServer(ns.server, serverAddr, `${sink.host}:${sink.port}`, { key, controlDir: dir, name: `s${n}`, nodeArgs })
  const client = startGstClient(ns.client, clientListen, serverAddr, { key, controlDir: dir, name: `c${n}`, nodeArgs, ...(paths ? { paths } : {}) })
  try {
    await waitForPaths(client, paths?.length ?? 1)
  } catch (error) {
    await Promise.all([client.stop(), server.stop(), sinkProc.stop()])
    throw error
  }
  if (nodeArgs.length > 0) console.log(`  profiling ${server.name} pid ${server.proc.pid}, ${client.name} pid ${client.proc.pid}`)
  await sleep(IDLE_MS)
  return { server, client, sink: sinkProc }
}

async function finish (p: Pipe, source: NsProcess, seconds: number): Promise<{ out: FlowReport, source: { bytes: number, sha256: string }, code: number | string }> {
  const killer = setTimeout(() => { source.kill(); p.sink.kill() }, (seconds + 30) * 1000)
  const code = await source.exited
  await Promise.race([p.sink.exited, sleep(5000)])
  clearTimeout(killer)
  p.sink.kill()
  await Promise.all([p.client.stop(), p.server.stop()])
  const sent = source.lines.find((l) => l.startsWith('{'))
  return { out: flowReport(p.sink.lines), source: sent ? JSON.parse(sent) as { bytes: number, sha256: string } : { bytes: NaN, sha256: '' }, code }
}

const exact = (out: FlowReport, source: { bytes: number, sha256: string }): boolean => out.bytes === source.bytes && out.sha256 === source.sha256 && out.sha256 !== ''

interface FlowRun {
  name: string, goodputBps: number, wholeBps: number, exact: boolean, bytes: number, load: string
  /** Share of the stream's bytes on each link (lab counters, client->server). */
  linkShare: number[]
  /** Set when the client could not run this configuration (no --path before multipath). */
  unsupported?: string
}

async function labFlow (name: string, paths: number[] | undefined, via = 0): Promise<FlowRun> {
  routeUnboundVia(lab, via)
  try {
    return await labFlowRouted(name, paths)
  } finally {
    routeUnboundVia(lab, 0)
  }
}

async function labFlowRouted (name: string, paths: number[] | undefined): Promise<FlowRun> {
  const load = loadAverage()
  let p: Pipe
  try {
    p = await pipe(lab.namespaces, `${lab.serverAddress}:${SERVER_PORT}`, CLIENT_LISTEN, SINK, paths?.map((i) => lab.clientAddress(i)))
  } catch (error) {
    if (!(error instanceof PathOptionUnsupported)) throw error
    console.log(`  ${name}: not supported by this gst-client (${error.message})`)
    return { name, goodputBps: NaN, wholeBps: NaN, exact: false, bytes: 0, load, linkShare: [], unsupported: error.message }
  }
  const t0 = lab.nowNs()
  const s = sampleLinks(lab, t0, [0, 1], SAMPLE_MS)
  const source = NsProcess.spawn('tcp-flow source', lab.namespaces.client, process.execPath, [tcpFlowPath, 'source', ...CLIENT_LISTEN.split(':'), String(SECONDS)])
  const { out, source: sent } = await finish(p, source, SECONDS)
  const samples = await s.stop()
  const first = samples[0]!; const last = samples[samples.length - 1]!
  const carried = [0, 1].map((l) => last.up[l]! - first.up[l]!)
  const total = carried[0]! + carried[1]!
  const run: FlowRun = {
    name, goodputBps: flowGoodputBps(out, STEADY_FROM_S), wholeBps: out.bytes * 8 / (Number(BigInt(out.lastNs) - BigInt(out.firstNs)) / 1e9),
    exact: exact(out, sent), bytes: out.bytes, load, linkShare: carried.map((c) => c / total),
  }
  plot(name, `${name}: ${(run.goodputBps / 1e6).toFixed(1)} Mbit/s steady`, out, t0, samples)
  console.log(`  ${name}: ${(run.goodputBps / 1e6).toFixed(2)} Mbit/s steady (${(run.wholeBps / 1e6).toFixed(2)} whole), byte-exact ${run.exact}, ` +
    `l1/l2 share ${run.linkShare.map((x) => `${(x * 100).toFixed(0)} %`).join(' / ')}, load ${load}`)
  return run
}

function plot (name: string, title: string, out: FlowReport, t0: bigint, samples: LinkSample[], marks: Array<{ x: number, label: string }> = []): void {
  const series: Series[] = [flowSeries(out, t0), ...linkSeries(samples, ['l1 (lab, up)', 'l2 (lab, up)'])]
  writeSvgPlot(`${outDir}pipe-multipath-${slug(name)}.svg`, title, 'Mbit/s', series, marks)
}

interface FailoverRun {
  name: string, exact: boolean, longestStallMs: number, stallAtS: number, bytes: number, load: string
  cutAtS: number, restoreAtS: number
  /** l2's rate in the second before the cut, and from 1 s after the restore to the end (lab counters). */
  l2BeforeMbit: number, l2AfterMbit: number
  /** From the restore until l2 carries data again (lab counters), and until the client shows an up subflow on l2 again. */
  recoveryMs: number, rejoinMs: number
  /** From the cut until the client no longer shows l2's subflow as usable (NaN: it never did while cut). */
  dropMs: number
  /** From the restore until the client's counters show l2's subflow sending again (>= 10 packets' worth in one status sample). */
  subflowDataMs: number
  /** The client's RTT of each subflow (l1, l2) in its last status before the cut: what its stall timeout scales with. */
  rttBeforeCutMs: number[]
  unsupported?: string
}

async function failover (name: string, seconds: number, cutAfterS: number, downForS: number): Promise<FailoverRun> {
  const load = loadAverage()
  let p: Pipe
  try {
    p = await pipe(lab.namespaces, `${lab.serverAddress}:${SERVER_PORT}`, CLIENT_LISTEN, SINK, [lab.clientAddress(0), lab.clientAddress(1)])
  } catch (error) {
    if (!(error instanceof PathOptionUnsupported)) throw error
    console.log(`  ${name}: not supported by this gst-client (${error.message})`)
    return { name, exact: false, longestStallMs: NaN, stallAtS: NaN, bytes: 0, load, cutAtS: NaN, restoreAtS: NaN, l2BeforeMbit: NaN, l2AfterMbit: NaN, recoveryMs: NaN, rejoinMs: NaN, dropMs: NaN, subflowDataMs: NaN, rttBeforeCutMs: [], unsupported: error.message }
  }
  const t0 = lab.nowNs()
  const s = sampleLinks(lab, t0, [0, 1], SAMPLE_MS)
  const st = pollStatus(p.client, t0)
  const source = NsProcess.spawn('tcp-flow source', lab.namespaces.client, process.execPath, [tcpFlowPath, 'source', ...CLIENT_LISTEN.split(':'), String(seconds)])
  // The cut must hit a path that carries part of the stream: it comes once l2 has carried
  // >= 2 Mbit/s over the last 0.5 s, but not before cutAfterS nor after cutAfterS + 6 s.
  let l2Busy = false
  for (;;) {
    await sleep(SAMPLE_MS)
    const sinceS = Number(lab.nowNs() - t0) / 1e9
    l2Busy = recentRateMbit(s.samples(), 1, 500) >= 2
    if ((sinceS >= cutAfterS && l2Busy) || sinceS >= cutAfterS + 6) break
  }
  const cutNs = lab.nowNs()
  await lab.cut(1)
  const restoreNs = cutNs + BigInt(Math.round(downForS * 1e9))
  await lab.restore(1, restoreNs)
  if (!l2Busy) console.log(`  ${name}: l2 never carried 2 Mbit/s before the cut`)
  const { out, source: sent, code } = await finish(p, source, seconds)
  const samples = await s.stop()
  const statuses = await st.stop()
  const cutMs = Number(cutNs - t0) / 1e6
  const restoreMs = Number(restoreNs - t0) / 1e6
  const gaps = flowStalls(out, t0, seconds)
  const [stallAtS, longestStallMs] = gaps[0] ?? [0, 0]
  const l2 = `${lab.clientAddress(1)}:`
  const usableL2 = (x: StatusSample): boolean => x.paths.some((q) => q.local.startsWith(l2) && (q.state === 'up' || q.state === 'degraded'))
  const rejoined = statuses.find((x) => x.tMs >= restoreMs && usableL2(x))
  const dropped = statuses.find((x) => x.tMs >= cutMs && x.tMs < restoreMs && !usableL2(x))
  // A new subflow starts counting from 0: compare per local address:port, not the sum.
  const sending = statuses.find((x, i) => x.tMs >= restoreMs && i > 0 && x.paths.some((q) => q.local.startsWith(l2) &&
    q.bytesOut - (statuses[i - 1]!.paths.find((o) => o.local === q.local)?.bytesOut ?? 0) >= 10 * 1400))
  const run: FailoverRun = {
    name, exact: code === 0 && exact(out, sent), longestStallMs, stallAtS, bytes: out.bytes, load, cutAtS: cutMs / 1000, restoreAtS: restoreMs / 1000,
    l2BeforeMbit: linkRateMbit(samples, 1, cutMs - 1000, cutMs), l2AfterMbit: linkRateMbit(samples, 1, restoreMs + 1000, Infinity),
    recoveryMs: carriesDataAfterMs(samples, 1, restoreMs), rejoinMs: rejoined === undefined ? NaN : rejoined.tMs - restoreMs,
    dropMs: dropped === undefined ? NaN : dropped.tMs - cutMs, subflowDataMs: sending === undefined ? NaN : sending.tMs - restoreMs,
    rttBeforeCutMs: [0, 1].map((l) => statuses.filter((x) => x.tMs < cutMs).at(-1)?.paths.find((q) => q.local.startsWith(`${lab.clientAddress(l)}:`))?.rttMs ?? NaN),
  }
  plot(name, `${name}: longest stall ${longestStallMs.toFixed(0)} ms`, out, t0, samples, [{ x: run.cutAtS, label: 'l2 cut' }, { x: run.restoreAtS, label: 'restore' }])
  console.log(`  ${name}: byte-exact ${run.exact}, longest stall ${longestStallMs.toFixed(0)} ms at ${stallAtS.toFixed(2)} s (cut ${run.cutAtS.toFixed(2)} s), ` +
    `client drops l2's subflow ${ms(run.dropMs)} after the cut; after the restore l2 carries data after ${ms(run.recoveryMs)} (lab), its subflow is up after ${ms(run.rejoinMs)} ` +
    `and sends after ${ms(run.subflowDataMs)} (client status); subflow RTTs before the cut ${run.rttBeforeCutMs.map((x) => ms(x)).join(' / ')}; l2 ${run.l2BeforeMbit.toFixed(1)} Mbit/s before the cut, ` +
    `${run.l2AfterMbit.toFixed(1)} after; load ${load}`)
  return run
}

interface LoopbackRun { name: string, bps: number[], cpuPerGB: Array<[number, number]>, stallMs: number[], load: string, unsupported?: string }

/** One loopback stream through the pipe, inside the server namespace (only lo there). */
async function loopback (run: LoopbackRun, paths: string[] | undefined): Promise<void> {
  const ns = lab.namespaces.server
  const n = instances
  let p: Pipe
  try {
    p = await pipe({ client: ns, server: ns }, `127.0.0.1:${44000 + n}`, `127.0.0.1:${45000 + n}`, { host: '127.0.0.1', port: 46000 + n }, paths)
  } catch (error) {
    if (!(error instanceof PathOptionUnsupported)) throw error
    run.unsupported = error.message
    return
  }
  const cpu0 = [p.client.cpuSeconds(), p.server.cpuSeconds()]
  const source = NsProcess.spawn('tcp-flow source', ns, process.execPath, [tcpFlowPath, 'source', '127.0.0.1', String(45000 + n), String(LOOPBACK_SECONDS), '--no-hash'])
  await source.exited
  await Promise.race([p.sink.exited, sleep(5000)])
  const cpu = [p.client.cpuSeconds() - cpu0[0]!, p.server.cpuSeconds() - cpu0[1]!]
  const { out, code } = await finish(p, source, LOOPBACK_SECONDS)
  if (code !== 0 || out.bytes === 0) throw new Error(`${run.name}: the stream failed (source exit ${code}, ${out.bytes} bytes at the sink)`)
  const bps = flowGoodputBps(out, LOOPBACK_STEADY_FROM_S)
  run.bps.push(bps)
  run.cpuPerGB.push([cpu[0]! / (out.bytes / 1e9), cpu[1]! / (out.bytes / 1e9)])
  run.stallMs.push(flowStalls(out, BigInt(out.firstNs), LOOPBACK_SECONDS)[0]?.[1] ?? 0)
  console.log(`  ${run.name}: ${(bps / 1e9).toFixed(2)} Gbit/s, CPU s per GB client ${run.cpuPerGB.at(-1)![0].toFixed(2)} server ${run.cpuPerGB.at(-1)![1].toFixed(2)}, ` +
    `longest gap between reads ${run.stallMs.at(-1)!.toFixed(0)} ms, load ${loadAverage()}`)
}

function ms (x: number): string { return Number.isNaN(x) ? 'never' : `${x.toFixed(0)} ms` }
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }

async function main (): Promise<void> {
  const reason = labUnavailableReason()
  if (reason) { console.error(`bench/pipe-multipath: ${reason}`); process.exit(2) }
  lab = await Lab.up({ links: [L1, L2] })
  key = keygen()
  dir = controlDir()
  const started = new Date().toISOString()
  try {
    console.log(`lab up (wire realtime: ${lab.realtime}); load ${loadAverage()}`)
    const bare = [await ping(lab.namespaces.client, lab.serverAddress, 10, 0.1, ['-I', lab.clientAddress(0)]), await ping(lab.namespaces.client, lab.serverAddress, 10, 0.1, ['-I', lab.clientAddress(1)])]
    console.log(`  bare RTT l1 ${bare[0]!.avgMs} ms, l2 ${bare[1]!.avgMs} ms`)
    const runs: FlowRun[] = []
    if (wanted('single path, l1')) runs.push(await labFlow('single path, l1', undefined, 0))
    if (wanted('single path, l2')) runs.push(await labFlow('single path, l2', undefined, 1))
    if (wanted('two paths')) runs.push(await labFlow('two paths (l1 + l2)', [0, 1]))
    const fails: FailoverRun[] = []
    if (wanted('failover')) fails.push(await failover('failover: l2 cut under load', SECONDS + 5, 4, 5))
    const loops: LoopbackRun[] = []
    if (wanted('loopback')) {
      const single: LoopbackRun = { name: 'loopback, single path', bps: [], cpuPerGB: [], stallMs: [], load: loadAverage() }
      const two: LoopbackRun = { name: 'loopback, two paths (127.0.0.1 + 127.0.0.2)', bps: [], cpuPerGB: [], stallMs: [], load: loadAverage() }
      for (let i = 0; i < ROUNDS; i++) {
        await loopback(single, undefined)
        if (two.unsupported === undefined) await loopback(two, ['127.0.0.1', '127.0.0.2'])
      }
      loops.push(single, two)
    }
    if (only !== undefined) return
    report(runs, fails, loops, bare.map((b) => b.avgMs), started)
  } finally {
    await lab.down()
  }
}

function report (runs: FlowRun[], fails: FailoverRun[], loops: LoopbackRun[], bareRtt: number[], started: string): void {
  const by = (n: string): FlowRun => runs.find((r) => r.name.startsWith(n))!
  const l1 = by('single path, l1'); const l2 = by('single path, l2'); const two = by('two paths')
  const sum = l1.goodputBps + l2.goodputBps
  const ratio = two.goodputBps / sum
  const mb = (b: number): string => (b / 1e6).toFixed(2)
  const notSupported = (u: string): string => `not supported by this gst-client (${u.replace(/^gst-client: /, '').replace(/ \(see .*\)$/, '')})`
  const header = ['run', 'goodput Mbit/s (steady)', 'whole run', 'vs', 'byte-exact', 'l1 / l2 share of bytes', 'load (1/5/15)']
  const row = (r: FlowRun, vs = ''): string[] => r.unsupported !== undefined
    ? [r.name, '-', '-', notSupported(r.unsupported), '-', '-', r.load]
    : [r.name, mb(r.goodputBps), mb(r.wholeBps), vs, String(r.exact), r.linkShare.map((x) => `${(x * 100).toFixed(0)} %`).join(' / '), r.load]
  const rows = [row(l1), row(l2), ['sum of l1 and l2 alone', mb(sum), '', '', '', '', ''], row(two, `${(ratio * 100).toFixed(1)} % of the sum`)]
  const fHeader = ['run', 'byte-exact', 'longest stall ms', 'at s', 'cut / restore at s', 'l2 Mbit/s before cut', 'subflow RTT l1 / l2 before cut (client)', 'client drops l2 after cut',
    'l2 carries data after restore (lab)', 'l2 subflow up / sending after restore (client)', 'l2 Mbit/s after restore', 'MB moved', 'load (1/5/15)']
  const fRows = fails.map((f) => f.unsupported !== undefined
    ? [f.name, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `${f.load}; ${notSupported(f.unsupported)}`]
    : [f.name, String(f.exact), f.longestStallMs.toFixed(0), f.stallAtS.toFixed(2), `${f.cutAtS.toFixed(1)} / ${f.restoreAtS.toFixed(1)}`,
        f.l2BeforeMbit.toFixed(1), f.rttBeforeCutMs.map((x) => ms(x)).join(' / '), ms(f.dropMs), ms(f.recoveryMs), `${ms(f.rejoinMs)} / ${ms(f.subflowDataMs)}`, f.l2AfterMbit.toFixed(1), (f.bytes / 1e6).toFixed(1), f.load])
  const lSingle = loops[0]; const lTwo = loops[1]
  // Rounds alternate single and two paths, so each round's ratio compares runs seconds apart
  // under about the same load; the median of those ratios is the figure.
  const roundRatios = lSingle && lTwo ? lTwo.bps.map((b, i) => b / lSingle.bps[i]!) : []
  const cpuRatios = lSingle && lTwo ? lTwo.cpuPerGB.map((c, i) => (c[0] + c[1]) / (lSingle.cpuPerGB[i]![0] + lSingle.cpuPerGB[i]![1])) : []
  const lHeader = ['run', 'Gbit/s per round', 'vs single path (median of rounds)', 'pipe CPU s per GB (client, server; mean)', 'longest gap between reads ms', 'load at start (1/5/15)']
  const lRows = loops.map((l) => l.unsupported !== undefined || l.bps.length === 0
    ? [l.name, '-', notSupported(l.unsupported ?? 'no run'), '-', '-', l.load]
    : [l.name, l.bps.map((b) => (b / 1e9).toFixed(2)).join(', '), l === lSingle ? '1.00x' : `${median(roundRatios).toFixed(2)}x (${roundRatios.map((r) => r.toFixed(2)).join(', ')})`,
        `${mean(l.cpuPerGB.map((c) => c[0])).toFixed(2)}, ${mean(l.cpuPerGB.map((c) => c[1])).toFixed(2)}`, l.stallMs.map((x) => x.toFixed(0)).join(', '), l.load])
  const loopRatio = roundRatios.length > 0 ? median(roundRatios) : NaN
  const verdict = (met: boolean): string => met ? 'met' : 'MISSED'
  const verdicts = [
    two.unsupported !== undefined ? 'two paths >= 90 % of l1 + l2 alone: not measured (this gst-client has no --path)'
      : `two paths >= 90 % of l1 + l2 alone: ${verdict(ratio >= 0.9)} (${(ratio * 100).toFixed(1)} %), byte-exact ${two.exact}`,
    ...fails.map((f) => f.unsupported !== undefined ? `${f.name}: not measured (this gst-client has no --path)`
      : `${f.name}: byte-exact and longest stall <= 1 s: ${verdict(f.exact && f.longestStallMs <= 1000)} (${f.longestStallMs.toFixed(0)} ms); ` +
        `l2 carrying data again within 2 s of the restore: ${verdict(f.recoveryMs <= 2000)} (${ms(f.recoveryMs)})`),
    Number.isNaN(loopRatio) ? 'loopback two paths >= 0.8x single path: not measured (this gst-client has no --path)'
      : `loopback two paths >= 0.8x single path: ${verdict(loopRatio >= 0.8)} (${loopRatio.toFixed(2)}x, median of ${roundRatios.length} rounds; ` +
        `CPU per GB two paths / single path ${median(cpuRatios).toFixed(2)}x, the load-independent side of it)`,
  ]
  const setup = `l1 20 Mbit/s 10 ms, l2 10 Mbit/s 60 ms one-way, 100-packet droptail queues (bare RTT l1 ${bareRtt[0]!.toFixed(1)} ms, l2 ${bareRtt[1]!.toFixed(1)} ms); one TCP stream client -> server through the pipe, ${SECONDS} s (goodput from ${STEADY_FROM_S} s on)`
  console.log(`\nPipe multipath: ${setup}\n`)
  console.log(table(header, rows))
  console.log('')
  console.log(table(fHeader, fRows))
  console.log('')
  console.log(table(lHeader, lRows))
  console.log(`\ntargets:\n  ${verdicts.join('\n  ')}\n\nplots: ${outDir}pipe-multipath-*.svg`)
  if (args.flag('no-markdown')) return
  const section = [
    TITLE,
    '',
    `Run ${started} by \`npm run bench:pipe-multipath\` (node ${process.version}, 2 cores shared with other work, wire realtime ${lab.realtime}). Lab: ${setup}. ` +
      'gst-server (server namespace) in front of a packet-level TCP sink (bench/lib/tcp-flow.ts: timestamps every read, sha256 of every byte), gst-client (client namespace) with no `--path` for the single-path rows (its unbound socket routed over l1 or l2) ' +
      'and `--path L1ADDR --path L2ADDR` for the two-path rows; the source writes random data and its sha256 must match the sink\'s ("byte-exact"). Link shares are the lab\'s client->server byte counters. ' +
      `Loopback rows: gst-server and gst-client inside one namespace, ${LOOPBACK_SECONDS} s per round, single and two paths alternating, no hashing (it would compete for the CPU being measured). ` +
      'The load average (1/5/15 min) is shown with each run: figures move with it.',
    '',
    markdownTable(header, rows),
    '',
    markdownTable(fHeader, fRows),
    '',
    markdownTable(lHeader, lRows),
    '',
    'Targets (issue 6):',
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
    'Plots: bench/out/pipe-multipath-*.svg (receiver goodput and each link\'s client->server rate from the lab\'s counters).',
    '',
  ].join('\n')
  writeBenchmarkSection(TITLE, section)
  console.log(`\nwrote the pipe multipath section of ${benchmarksFile}`)
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
