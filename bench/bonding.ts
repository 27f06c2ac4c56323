/**
 * Bonding and failover in the lab (DESIGN.md sections 8 and 9, issue 5's targets):
 * l1 = 20 Mbit/s, 10 ms one-way; l2 = 10 Mbit/s, 60 ms one-way; 100-packet queues (other links with
 * --l1 / --l2 RATE,DELAY[,QUEUE]); no rates configured in ttt. One TCP flow through the tunnel:
 *   - iperf3 alone over l1, alone over l2 (single-path tunnels), bonded over both; goodput and
 *     bonded / (l1 + l2) in the same run; ping through the saturated bond vs l1's bare RTT;
 *   - the same with 5 % loss on l2;
 *   - failover: l2 blackholed (lab.cut) under load, and separately while idle before the flow
 *     starts; the longest stall of the running flow (packet level, bench/lib/tcp-flow.ts) and the
 *     time until l2 carries data again after restore.
 * Prints a table, writes a plot per run into bench/out/ (goodput and per-link rates from the lab's
 * counters) and the "## VPN bonding (node dist/bench/bonding.js)" section of BENCHMARKS.md.
 *
 *   node dist/bench/bonding.js [--seconds 15] [--idle-ms 1000] [--no-markdown] [--only SUBSTRING] [--ttt "--pace"] [--show-every MS] [--ss-every MS] [--trace-holes] [--bonded-runs N] [--cport PORT] [--l1 20mbit,10ms,100] [--l2 10mbit,60ms,100]
 * (--only runs the matching runs alone and prints their lines, no table or markdown)
 */
import { execFile } from 'node:child_process'
import { benchArgs, type LinkOption } from './lib/bench-args.js'
import { Lab, labUnavailableReason } from '../test/lab/lab.js'
import { requestControl } from '../src/control/control-client.js'
import { socketPath } from '../src/control/paths.js'
import {
  NsProcess, keygen, startTttServer, startTttClient, stopTtt, iperfServer, iperfClient, ping, loadAverage, writeSvgPlot, table, markdownTable, sleep,
  type Closing, type IperfResult, type Series,
} from './lib/vpn.js'
import {
  sampleLinks, linkSeries as labLinkSeries, linkRateMbit, recentRateMbit, carriesDataAfterMs, flowReport, flowStalls, flowSeries, slug, writeBenchmarkSection,
  tcpFlowPath as tcpFlow, outDir, benchmarksFile, type LinkSample,
} from './lib/lab-flow.js'

const args = benchArgs('node dist/bench/bonding.js [--seconds 15] [--idle-ms 1000] [--no-markdown] [--only SUBSTRING] [--cc NAME] [--ttt "--pace"] [--ttt-client "--equal-delay"] [--show-every MS] [--ss-every MS] [--trace-holes] [--bonded-runs N] [--cport PORT] [--l1 20mbit,10ms,100] [--l2 10mbit,60ms,100]', {
  'bonded-runs': 'number', cport: 'number', l1: 'link', l2: 'link', seconds: 'number', 'idle-ms': 'number', 'no-markdown': 'flag', only: 'string', cc: 'string', ttt: 'options', 'ttt-client': 'options', 'show-every': 'number', 'ss-every': 'number', 'trace-holes': 'flag',
})
const opt = args.number
const SECONDS = opt('seconds', 15)
/**
 * With --bonded-runs N: the bonded run N times in a row, each a row of the table; the target (and
 * the ping's) must hold in every one. BBR's bond varies from run to run, so one run proves little.
 */
const BONDED_RUNS = opt('bonded-runs', 1)
if (!Number.isInteger(BONDED_RUNS) || BONDED_RUNS < 1) { console.error('--bonded-runs takes a whole number >= 1'); process.exit(2) }
/**
 * With --cport PORT: iperf3's client port (--cport), to pick the inner flow's 5-tuple: e.g. one whose
 * flow bucket is the ping's (flowBucketOf of both), to check that the ping still goes first.
 */
const CPORT = opt('cport', 0)
if (!Number.isInteger(CPORT) || CPORT > 65535) { console.error('--cport takes a port number, 1-65535'); process.exit(2) }
/** Goodput counts from here on (slow start over a 60 ms path takes a while). */
const STEADY_FROM_S = 3

/** The lab's links (issue 5's); --l1 / --l2 RATE,DELAY[,QUEUE] bond others (e.g. the faster link the longer one). */
const L1: LinkOption = args.link('l1', { delayMs: 10, rateMbit: 20, queuePkts: 100 })
const L2: LinkOption = args.link('l2', { delayMs: 60, rateMbit: 10, queuePkts: 100 })
/** The queues' words in the printed topology: "100-packet", or "100- and 50-packet" when they differ. */
const QUEUES = L1.queuePkts === L2.queuePkts ? `${L1.queuePkts}-packet` : `${L1.queuePkts}- and ${L2.queuePkts}-packet`
const PORT = 5000
const INNER = '10.9.0.1'
const SAMPLE_MS = 50
/** Idle time between the session coming up and the flow starting. */
const IDLE_MS = opt('idle-ms', 1000)
/** With --show-every MS: poll the bonded client's `ttt show --json` and print per-path state, srtt, rate and send rate. */
const SHOW_EVERY_MS = opt('show-every', 0)
/** With --ss-every MS: poll the sender's TCP state (ss -tin in the client namespace: cwnd, ssthresh, rtt, retrans) during bonded runs. */
const SS_EVERY_MS = opt('ss-every', 0)
/** With --cc NAME: the inner flows' congestion control (iperf3 -C, tcp-flow --cc; default: the host's). */
const INNER_CC = args.string('cc', undefined)
/** tcp-flow source's options for INNER_CC (the failover runs' sender). */
const TCP_FLOW_CC = INNER_CC !== undefined ? ['--cc', INNER_CC] : []
/** Extra ttt options for both ends (e.g. --ttt "--pace"), to compare settings in the lab. */
const TRACE_HOLES = args.flag('trace-holes')
/** With --trace-holes both ends log at debug level, which traces every hole, late fill and nack (src/vpn/hole-trace.ts); printed per run. */
const TTT_EXTRA = [...args.string('ttt', '').split(' ').filter((a) => a !== ''), ...(TRACE_HOLES ? ['--log-level', 'debug'] : [])]
/** --ttt-client "OPTIONS": ttt options for the client end only (e.g. "--equal-delay": one end is enough). */
const TTT_CLIENT_EXTRA = args.string('ttt-client', '').split(' ').filter((a) => a !== '')

let lab: Lab
let key: string

/** Samples the lab's per-link client->server byte counters every SAMPLE_MS until stopped. */
function sampler (t0Ns: bigint): ReturnType<typeof sampleLinks> { return sampleLinks(lab, t0Ns, [0, 1], SAMPLE_MS) }

function linkSeries (samples: LinkSample[]): Series[] { return labLinkSeries(samples, ['l1 (lab, up)', 'l2 (lab, up)']) }

interface Tunnel { server: NsProcess, client: NsProcess }
async function tunnel (paths: number[]): Promise<Tunnel> {
  const server = startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${INNER}/24`, { key, extra: TTT_EXTRA })
  await server.waitFor(/listening/)
  const showArgs = SHOW_EVERY_MS > 0 ? ['--control-dir', SHOW_DIR, '--name', 'bondc'] : []
  const client = startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', paths.map((i) => lab.clientAddress(i)), { key, extra: [...TTT_EXTRA, ...TTT_CLIENT_EXTRA, ...showArgs] })
  await client.waitFor(/session with .* up/)
  await sleep(IDLE_MS)   // a few probe rounds: RTTs known before the flow starts
  return { server, client }
}
async function close (t: Tunnel): Promise<{ client: Closing, server: Closing }> {
  // The server first: a client's Close makes the server drop that client and its counters.
  const server = await stopTtt(t.server)
  return { client: await stopTtt(t.client), server }
}

interface GoodputRun {
  name: string, goodputBps: number, wholeBps: number, retransmits: number, load: string
  client: Closing, server: Closing, pingMs?: { avg: number, p50: number, max: number, loss: number, idleP50: number }
}

function steadyBps (r: IperfResult): number {
  const ivs = (r.receiverIntervals.length > 0 ? r.receiverIntervals : r.intervals).filter((i) => i.start >= STEADY_FROM_S - 1e-6)
  const seconds = ivs.reduce((a, i) => a + (i.end - i.start), 0)
  return ivs.reduce((a, i) => a + i.bitsPerSecond * (i.end - i.start), 0) / seconds
}

function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }

async function goodput (name: string, paths: number[], withPing = false): Promise<GoodputRun> {
  const t = await tunnel(paths)
  // The same ping through the idle tunnel first: what the tunnel and the host's scheduling add
  // without any queue (the saturated ping's target is l1's bare RTT + 10 ms).
  const idlePing = withPing ? await ping(lab.namespaces.client, INNER, 20, 0.1) : undefined
  const srv = await iperfServer(lab.namespaces.server, INNER, 5201, ['-i', '0.1'])
  const load = loadAverage()
  const downBefore = await Promise.all(paths.map((l) => lab.stats(l)))
  const t0 = lab.nowNs()
  const s = sampler(t0)
  const flow = iperfClient(lab.namespaces.client, INNER, 5201, ['-t', String(SECONDS), '-i', '0.1', '--get-server-output', ...(CPORT > 0 ? ['--cport', String(CPORT)] : []), ...(INNER_CC !== undefined ? ['-C', INNER_CC] : [])])
  const poller = SHOW_EVERY_MS > 0 && paths.length > 1 ? pollShow(t0) : undefined
  const ssPoller = SS_EVERY_MS > 0 && paths.length > 1 ? pollSs(t0) : undefined
  let pinged: Awaited<ReturnType<typeof ping>> | undefined
  if (withPing) {
    await sleep(STEADY_FROM_S * 1000)
    pinged = await ping(lab.namespaces.client, INNER, Math.floor((SECONDS - STEADY_FROM_S - 1) / 0.2), 0.2)
  }
  const r = await flow
  if (ssPoller) console.log(`    receiver Mbit/s per interval: ${(r.receiverIntervals.length > 0 ? r.receiverIntervals : r.intervals).map((i) => `${i.end.toFixed(1)}:${(i.bitsPerSecond / 1e6).toFixed(1)}`).join(' ')}`)
  poller?.stop()
  ssPoller?.stop()
  const samples = await s.stop()
  const downAfter = await Promise.all(paths.map((l) => lab.stats(l)))
  await srv.stop()
  const closing = await close(t)
  // The reverse direction (server->client: the inner flow's ACKs), per link: which path the ACKs took.
  const down = paths.map((l, i) => `l${l + 1} ${downAfter[i]!.down.txPkts - downBefore[i]!.down.txPkts} packets`).join(', ')
  if (SS_EVERY_MS > 0) {
    console.log(`  ${name}: server->client ${down}`)
    const perLink = linkSeries(samples)
    console.log(`    client->server Mbit/s per ${SAMPLE_MS} ms (l1/l2): ${perLink[0]!.points.map(([x, y], i) => `${x.toFixed(2)}:${y.toFixed(0)}/${(perLink[1]?.points[i]?.[1] ?? 0).toFixed(0)}`).join(' ')}`)
    for (const [who, p] of [['client', t.client], ['server', t.server]] as const) console.log(p.lines.filter((l) => !/listening|session with/.test(l)).slice(-40).map((l) => `    ${who} log: ${l}`).join('\n'))
  }
  if (TRACE_HOLES) printTrace(name, t)
  const run: GoodputRun = {
    name, goodputBps: steadyBps(r), wholeBps: r.receivedBps, retransmits: r.retransmits, load, ...closing,
    ...(pinged ? { pingMs: { avg: pinged.avgMs, p50: median(pinged.rtts), max: pinged.maxMs, loss: pinged.lossPct, idleP50: median(idlePing?.rtts ?? []) } } : {}),
  }
  const series: Series[] = [{ name: 'goodput (receiver)', points: r.receiverIntervals.map((i) => [i.end, i.bitsPerSecond / 1e6]) }, ...linkSeries(samples)]
  writeSvgPlot(`${outDir}bonding-${slug(name)}.svg`, `${name}: ${(run.goodputBps / 1e6).toFixed(1)} Mbit/s steady`, 'Mbit/s', series)
  // What each link carried (client->server, the lab's counters, tunnel overhead included) over the steady part: which one was under-used.
  const wire = paths.map((l) => `l${l + 1} ${linkRateMbit(samples, l, STEADY_FROM_S * 1000, Infinity).toFixed(1)}`).join(', ')
  console.log(`  ${name}: ${(run.goodputBps / 1e6).toFixed(2)} Mbit/s steady (${(r.receivedBps / 1e6).toFixed(2)} whole), ${r.retransmits} retransmits, on the wire ${wire} Mbit/s, load ${load}`)
  if (run.pingMs) console.log(`  ${name}: ping median ${run.pingMs.p50.toFixed(1)} ms, avg ${run.pingMs.avg.toFixed(1)} ms, max ${run.pingMs.max.toFixed(1)} ms, loss ${run.pingMs.loss} % (idle tunnel before the flow: median ${run.pingMs.idleP50.toFixed(1)} ms)`)
  return run
}

const SHOW_DIR = `/tmp/gst-bonding-show-${process.pid}`

/** Prints one line per poll of the client's paths: state, srtt (its rise over the min is queueing), planned rate, Mbit/s sent since the last poll. */
function pollShow (t0: bigint): { stop: () => void } {
  const last = new Map<string, number>()
  const timer = setInterval(() => {
    // Straight over the control socket: a `ttt show` process per poll cost a core at 10 polls/s.
    requestControl(socketPath(SHOW_DIR, 'bondc'), { cmd: 'status' }, { timeoutMs: 2000 }).then((reply) => {
      const stdout = JSON.stringify(reply)
      const peers: { paths?: { id: string, state: string, rttMs: number | null, rateBitsPerSec: number | null, bytesOut: number }[] }[] = []
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) { v.forEach(walk); return }
        if (v === null || typeof v !== 'object') return
        if (Array.isArray((v as { paths?: unknown }).paths)) peers.push(v as (typeof peers)[number])
        else Object.values(v).forEach(walk)
      }
      try { walk(JSON.parse(stdout)) } catch { return }
      const atS = Number(lab.nowNs() - t0) / 1e9
      const cells = (peers[0]?.paths ?? []).map((p) => {
        const sentMbit = ((p.bytesOut - (last.get(p.id) ?? p.bytesOut)) * 8) / (SHOW_EVERY_MS * 1000)
        last.set(p.id, p.bytesOut)
        return `l${Number(p.id) + 1} ${p.state} srtt ${p.rttMs?.toFixed(0) ?? '-'} ms rate ${p.rateBitsPerSec !== null ? (p.rateBitsPerSec / 1e6).toFixed(1) : '-'} sent ${sentMbit.toFixed(1)} Mbit/s`
      })
      console.log(`    show ${atS.toFixed(2)} s: ${cells.join(' | ')}`)
    }, () => {})
  }, SHOW_EVERY_MS)
  return { stop: () => clearInterval(timer) }
}

/** Prints the iperf3 data flow's sender state (the client namespace's ss -tin) every SS_EVERY_MS: what limits the inner TCP. */
function pollSs (t0: bigint): { stop: () => void } {
  const fields = /\b(cwnd:\d+|ssthresh:\d+|rtt:[\d./]+|bytes_acked:\d+|retrans:[\d/]+|unacked:\d+|delivery_rate \S+|pacing_rate \S+|app_limited|notsent:\d+|rwnd_limited:\S+|sndbuf_limited:\S+|busy:\S+|snd_wnd:\d+|reordering:\d+|reord_seen:\d+|sacked:\d+|lost:\d+|dsack_dups:\d+|bbr:\S+|cubic|reno)/g
  const timer = setInterval(() => {
    execFile('ip', ['netns', 'exec', lab.namespaces.client, 'ss', '-tin', 'dst', `${INNER}:5201`], { timeout: 2000 }, (err, stdout) => {
      if (err) return
      const atS = Number(lab.nowNs() - t0) / 1e9
      // The data connection is the one with the most bytes acked (iperf3 also holds a control connection).
      const blocks = stdout.split('\n').filter((l) => l.includes('cwnd:'))
      const best = blocks.sort((a, b) => Number(/bytes_acked:(\d+)/.exec(b)?.[1] ?? 0) - Number(/bytes_acked:(\d+)/.exec(a)?.[1] ?? 0))[0]
      if (best !== undefined) console.log(`    ss ${atS.toFixed(2)} s: ${(best.match(fields) ?? []).join(' ')}`)
    })
  }, SS_EVERY_MS)
  return { stop: () => clearInterval(timer) }
}

interface FailoverRun {
  name: string, survived: boolean, longestStallMs: number, stallAtS: number, recoveryMs: number, bytes: number, load: string
  /** l2's client->server rate in the second before the cut, and from 1 s after the restore to the end. */
  l2BeforeMbit: number, l2AfterMbit: number
  client: Closing, server: Closing, cutAtS: number, restoreAtS: number
}

/**
 * A tcp-flow source through the bond for `seconds`; l2 cut at cutAtS and restored at restoreAtS
 * (seconds from the flow's start; a negative cutAtS cuts before the flow starts, while idle).
 */
async function failover (name: string, seconds: number, cutAtS: number, restoreAtS: number): Promise<FailoverRun> {
  const t = await tunnel([0, 1])
  const sink = NsProcess.spawn('tcp-flow sink', lab.namespaces.server, process.execPath, [tcpFlow, 'sink', INNER, '7000'])
  await sink.waitFor(/^listening/)
  const load = loadAverage()
  let t0 = lab.nowNs()
  let s: ReturnType<typeof sampler>
  let source: NsProcess
  let restoreNs: bigint
  const startSource = (): NsProcess => NsProcess.spawn('tcp-flow source', lab.namespaces.client, process.execPath, [tcpFlow, 'source', INNER, '7000', String(seconds), ...TCP_FLOW_CC])
  const l2Before = await lab.stats(1)
  if (cutAtS < 0) {
    await lab.cut(1)
    await sleep(-cutAtS * 1000)  // idle with l2 dead
    t0 = lab.nowNs()
    restoreNs = t0 + BigInt(Math.round(restoreAtS * 1e9))
    await lab.restore(1, restoreNs)
    s = sampler(t0)
    source = startSource()
  } else {
    // Under load: the cut must hit a path that carries part of the flow, so it comes once l2 has
    // carried >= 2 Mbit/s over the last 0.5 s, but not before cutAtS nor after cutAtS + 6 s;
    // the restore follows restoreAtS - cutAtS later.
    s = sampler(t0)
    source = startSource()
    let l2Busy = false
    for (;;) {
      await sleep(SAMPLE_MS)
      const sinceS = Number(lab.nowNs() - t0) / 1e9
      l2Busy = recentRateMbit(s.samples(), 1, 500) >= 2
      if ((sinceS >= cutAtS && l2Busy) || sinceS >= cutAtS + 6) break
    }
    const cutNs = lab.nowNs()
    await lab.cut(1)
    restoreNs = cutNs + BigInt(Math.round((restoreAtS - cutAtS) * 1e9))
    await lab.restore(1, restoreNs)
    cutAtS = Number(cutNs - t0) / 1e9
    if (!l2Busy) console.log(`  ${name}: l2 never carried 2 Mbit/s before the cut`)
  }
  const killer = setTimeout(() => { source.kill(); sink.kill() }, (seconds + 20) * 1000)
  const code = await source.exited
  await Promise.race([sink.exited, sleep(5000)])
  sink.kill()
  clearTimeout(killer)
  const samples = await s.stop()
  const l2After = await lab.stats(1)
  if (TRACE_HOLES) {
    // The trace's lines carry wall-clock times: the same clock for the cut and the stall.
    const wallMs = (atS: number): string => new Date(Date.now() - Number(lab.nowNs() - t0) / 1e6 + atS * 1000).toISOString()
    console.log(`  ${name}: cut at ${wallMs(cutAtS)}, restore at ${wallMs(Number(restoreNs - t0) / 1e9)}; stalls over 100 ms: ${flowStalls(flowReport(sink.lines), t0, seconds).filter(([, ms]) => ms > 100).map(([atS, ms]) => `${ms.toFixed(0)} ms from ${wallMs(atS)}`).join(', ')}`)
    printTrace(name, t)
  }
  const closing = await close(t)
  const out = flowReport(sink.lines)
  const gaps = flowStalls(out, t0, seconds)
  const [gapAtS, gapMs] = gaps[0] ?? [0, 0]
  // Recovery: the first sample after the restore in which l2 carried at least 10 full packets' worth.
  const restoreMs = Number(restoreNs - t0) / 1e6
  const recoveryMs = carriesDataAfterMs(samples, 1, restoreMs)
  const l2Rate = (fromMs: number, toMs: number): number => linkRateMbit(samples, 1, fromMs, toMs)
  const l2BeforeMbit = cutAtS < 0 ? NaN : l2Rate(cutAtS * 1000 - 1000, cutAtS * 1000)
  const l2AfterMbit = l2Rate(restoreMs + 1000, Infinity)
  const series: Series[] = [
    flowSeries(out, t0),
    ...linkSeries(samples),
  ]
  const cutS = cutAtS < 0 ? 0 : cutAtS
  writeSvgPlot(`${outDir}bonding-${slug(name)}.svg`, `${name}: longest stall ${gapMs.toFixed(0)} ms`, 'Mbit/s', series,
    [{ x: cutS, label: cutAtS < 0 ? 'l2 cut (since idle)' : 'l2 cut' }, { x: restoreMs / 1000, label: 'restore' }])
  const run: FailoverRun = {
    name, l2BeforeMbit, l2AfterMbit, survived: code === 0 && out.bytes > 0, longestStallMs: gapMs, stallAtS: gapAtS, recoveryMs, bytes: out.bytes, load, ...closing,
    cutAtS: cutS, restoreAtS: restoreMs / 1000,
  }
  console.log(`  ${name}: survived ${run.survived}, longest stall ${gapMs.toFixed(0)} ms at ${run.stallAtS.toFixed(2)} s, l2 back ${recoveryMs.toFixed(0)} ms after restore, l2 ${l2BeforeMbit.toFixed(1)} Mbit/s before the cut and ${l2AfterMbit.toFixed(1)} after the restore, ` +
    `packets into l2's cut: client->server ${l2After.up.dropCut - l2Before.up.dropCut}, server->client ${l2After.down.dropCut - l2Before.down.dropCut}, load ${load}`)
  return run
}

/** With --trace-holes: the hole, nack, rate and path-state lines both ends logged in run `name`. */
function printTrace (name: string, t: Tunnel): void {
  for (const [who, p] of [['client', t.client], ['server', t.server]] as const) {
    const traced = p.lines.filter((l) => / hole \d+\/\d+ | nacked \+| rate path | starved at |path \S+ (?:is )?(?:up|down|degraded|probing|backup)\b/.test(l))
    console.log(`  ${name}: ${who} trace (${traced.length} lines)\n${traced.map((l) => `    ${who} trace: ${l.replace(/ debug +/, ' ')}`).join('\n')}`)
  }
}

function counters (c: { client: Closing, server: Closing }): string {
  const cp = c.client.peers[0]
  const sp = c.server.peers[0]
  const ro = sp?.reorder as (Record<string, number> | undefined)
  const wait = /wait (\{[^}]*\})/.exec(c.client.line)?.[1] ?? '?'
  const sent = (line: string): string => /sparse \d+ (?:kept \d+ )?sent \{[^}]*\}(?: copies \d+)?(?: parities \d+ rebuilt \d+)?(?: silences \d+)?/.exec(line)?.[0] ?? ''
  return `client ${sent(c.client.line)}, server ${sent(c.server.line)}; client refused ${cp?.refused ?? '?'}, repairs ${cp?.repairs ?? '?'}, wait ${wait}; server refused ${sp?.refused ?? '?'}, repairs ${sp?.repairs ?? '?'}, reorder held ${ro?.held ?? '?'} skipped ${ro?.skipped ?? '?'} late ${ro?.late ?? '?'}` +
    `${ro?.heldBehindLoss !== undefined ? ` heldBehindLoss ${ro.heldBehindLoss}` : ''} dup ${ro?.duplicates ?? '?'} maxHolding ${ro?.maxHolding ?? '?'}; paths ${c.client.paths.map((p) => p.replace(/→\S+?:\d+:/, ':')).join(' ')}`
}

async function main (): Promise<void> {
  const reason = labUnavailableReason()
  if (reason) { console.error(`bench/bonding: ${reason}`); process.exit(2) }
  lab = await Lab.up({ links: [L1, L2] })
  key = keygen()
  const started = new Date().toISOString()
  try {
    console.log(`lab up (wire realtime: ${lab.realtime}); load ${loadAverage()}`)
    const bare = [await ping(lab.namespaces.client, lab.serverAddress, 10, 0.1, ['-I', lab.clientAddress(0)]), await ping(lab.namespaces.client, lab.serverAddress, 10, 0.1, ['-I', lab.clientAddress(1)])]
    console.log(`  bare RTT l1 ${bare[0]!.avgMs} ms, l2 ${bare[1]!.avgMs} ms`)
    // The inner flow's congestion control is the namespaces' default, inherited from the host, unless
    // --cc NAME asks both senders for another (e.g. cubic, the default of most distributions):
    // iperf3 with -C, the failover runs' tcp-flow through the addon's TCP_CONGESTION (as root it
    // may pick any algorithm the kernel has; a namespace's default may only be an allowed one).
    // BBR and CUBIC react to the bond's delay spread differently, so it goes with every figure.
    const cc = INNER_CC ?? (await lab.exec('client', 'sysctl', ['-n', 'net.ipv4.tcp_congestion_control'])).stdout.trim()
    console.log(`  inner TCP congestion control (iperf3's and tcp-flow's senders): ${cc}`)
    const only = args.string('only', undefined)
    const wanted = (name: string): boolean => only === undefined || name.includes(only)
    const runs: GoodputRun[] = []
    if (wanted('l1 alone')) runs.push(await goodput('l1 alone', [0]))
    if (wanted('l2 alone')) runs.push(await goodput('l2 alone', [1]))
    for (let k = 1; k <= BONDED_RUNS; k++) {
      const name = BONDED_RUNS > 1 ? `bonded ${k}/${BONDED_RUNS}` : 'bonded'
      if (wanted(name)) runs.push(await goodput(name, [0, 1], true))
    }
    await lab.set(1, { lossPct: 5 })
    if (wanted('l2 alone, 5% loss')) runs.push(await goodput('l2 alone, 5% loss', [1]))
    if (wanted('bonded, 5% loss on l2')) runs.push(await goodput('bonded, 5% loss on l2', [0, 1]))
    await lab.set(1, { lossPct: 0 })
    const fails: FailoverRun[] = []
    if (wanted('failover under load')) fails.push(await failover('failover under load', SECONDS + 5, 4, 9))
    if (wanted('failover while idle')) fails.push(await failover('failover while idle', SECONDS, -1, 5))
    for (const r of [...runs, ...fails]) console.log(`  ${r.name}: ${counters(r)}`)
    if (only !== undefined) return
    report(runs, fails, bare.map((b) => b.avgMs), started)
  } finally {
    await lab.down()
  }
}

function report (runs: GoodputRun[], fails: FailoverRun[], bareRtt: number[], started: string): void {
  const by = (n: string): GoodputRun => runs.find((r) => r.name === n)!
  const l1 = by('l1 alone'); const l2 = by('l2 alone')
  const bonds = runs.filter((r) => /^bonded( \d+\/\d+)?$/.test(r.name))
  const l2loss = by('l2 alone, 5% loss'); const bondLoss = by('bonded, 5% loss on l2')
  const sum = l1.goodputBps + l2.goodputBps
  // The loss target is "at least the better link alone": l1 in the default lab, l2 in some --l1/--l2 ones.
  const better = l2.goodputBps > l1.goodputBps ? l2 : l1
  const ratios = bonds.map((b) => b.goodputBps / sum)
  const pct = (r: number): string => `${(r * 100).toFixed(1)} %`
  const mb = (b: number): string => (b / 1e6).toFixed(2)
  const header = ['run', 'goodput Mbit/s (steady)', 'whole run', 'retransmits', 'vs', 'load (1/5/15)']
  const rows = [
    [l1.name, mb(l1.goodputBps), mb(l1.wholeBps), String(l1.retransmits), '', l1.load],
    [l2.name, mb(l2.goodputBps), mb(l2.wholeBps), String(l2.retransmits), '', l2.load],
    ...bonds.map((b, i) => [b.name, mb(b.goodputBps), mb(b.wholeBps), String(b.retransmits), `${pct(ratios[i]!)} of l1+l2 (${mb(sum)})`, b.load]),
    [l2loss.name, mb(l2loss.goodputBps), mb(l2loss.wholeBps), String(l2loss.retransmits), '', l2loss.load],
    [bondLoss.name, mb(bondLoss.goodputBps), mb(bondLoss.wholeBps), String(bondLoss.retransmits), `${(bondLoss.goodputBps / better.goodputBps * 100).toFixed(1)} % of ${better.name}`, bondLoss.load],
  ]
  const fHeader = ['run', 'survived', 'longest stall ms', 'at s', 'cut / restore at s', 'l2 Mbit/s before cut', 'l2 back after restore ms', 'l2 Mbit/s after restore', 'MB moved', 'load (1/5/15)']
  const fRows = fails.map((f) => [f.name, String(f.survived), f.longestStallMs.toFixed(0), f.stallAtS.toFixed(2), `${f.cutAtS.toFixed(1)} / ${f.restoreAtS.toFixed(1)}`,
    Number.isNaN(f.l2BeforeMbit) ? '- (idle)' : f.l2BeforeMbit.toFixed(1), Number.isNaN(f.recoveryMs) ? 'never' : f.recoveryMs.toFixed(0), f.l2AfterMbit.toFixed(1), (f.bytes / 1e6).toFixed(1), f.load])
  // The ping's target must hold in every bonded run: the worst run's (highest median) is the one shown.
  const p = bonds.map((b) => b.pingMs!).reduce((worst, q) => q.p50 > worst.p50 ? q : worst)
  const fastRtt = Math.min(...bareRtt)
  const pingLine = `ping through the saturated bond${bonds.length > 1 ? ' (the bonded run with the highest median)' : ''}: median ${p.p50.toFixed(1)} ms, avg ${p.avg.toFixed(1)} ms, max ${p.max.toFixed(1)} ms, loss ${p.loss} % (through the idle tunnel just before: median ${p.idleP50.toFixed(1)} ms); bare RTT l1 ${bareRtt[0]!.toFixed(1)} ms, l2 ${bareRtt[1]!.toFixed(1)} ms: +${(p.p50 - fastRtt).toFixed(1)} ms median, +${(p.avg - fastRtt).toFixed(1)} ms avg over the faster`
  const counterLines = [...runs, ...fails].map((r) => `${r.name}: ${counters(r)}`)
  const verdicts = [
    `bonded >= 95 % of l1+l2${bonds.length > 1 ? `, in each of ${bonds.length} runs` : ''}: ${ratios.every((r) => r >= 0.95) ? 'met' : 'MISSED'} (${ratios.map(pct).join(', ')})`,
    `bonded with 5 % loss on l2 >= the better link alone (${better.name}): ${bondLoss.goodputBps >= better.goodputBps ? 'met' : 'MISSED'} (${mb(bondLoss.goodputBps)} vs ${mb(better.goodputBps)} Mbit/s)`,
    ...fails.map((f) => `${f.name}: survives and stall <= 300 ms: ${f.survived && f.longestStallMs <= 300 ? 'met' : 'MISSED'} (${f.longestStallMs.toFixed(0)} ms); l2 back within 1 s: ${f.recoveryMs <= 1000 ? 'met' : 'MISSED'} (${Number.isNaN(f.recoveryMs) ? 'never' : `${f.recoveryMs.toFixed(0)} ms`})`),
    `ping through the saturated tunnel <= the faster link's RTT + 10 ms: ${p.p50 - fastRtt <= 10 ? 'met' : 'MISSED'} (median +${(p.p50 - fastRtt).toFixed(1)} ms)`,
  ]
  console.log(`\nVPN bonding: l1 ${L1.rateMbit} Mbit/s ${L1.delayMs} ms, l2 ${L2.rateMbit} Mbit/s ${L2.delayMs} ms one-way, ${QUEUES} queues, no rates configured; one TCP flow, ${SECONDS} s (goodput from ${STEADY_FROM_S} s on)\n`)
  console.log(table(header, rows))
  console.log('')
  console.log(table(fHeader, fRows))
  console.log(`\n${pingLine}\n\ntargets:\n  ${verdicts.join('\n  ')}\n\ncounters at close:\n  ${counterLines.join('\n  ')}\n\nplots: ${outDir}bonding-*.svg`)
  if (args.flag('no-markdown')) return
  const section = [
    '## VPN bonding (node dist/bench/bonding.js)',
    '',
    `Run ${started} by \`node dist/bench/bonding.js\` (node ${process.version}, 2 cores, wire realtime ${lab.realtime}). Lab: l1 ${L1.rateMbit} Mbit/s ${L1.delayMs} ms one-way, l2 ${L2.rateMbit} Mbit/s ${L2.delayMs} ms one-way, ${QUEUES} droptail queues; no rates configured in ttt (\`--scheduler auto\`). One TCP flow (iperf3, ${SECONDS} s; goodput is the receiver's from ${STEADY_FROM_S} s on); failover runs use a packet-level TCP receiver (bench/lib/tcp-flow.ts) for the longest gap between reads. Load average (1/5/15 min) at the start of each run is in the tables: the machine is shared, so figures move with it.`,
    '',
    markdownTable(header, rows),
    '',
    markdownTable(fHeader, fRows),
    '',
    pingLine + '.',
    '',
    'Targets (issue 5):',
    '',
    ...verdicts.map((v) => `- ${v}`),
    '',
    'Counters at close (ttt client = sender of the data, server = receiver):',
    '',
    ...counterLines.map((l) => `- ${l}`),
    '',
    'Plots: bench/out/bonding-*.svg (receiver goodput and each link\'s client->server rate from the lab\'s counters).',
    '',
  ].join('\n')
  writeSection(section)
  console.log(`\nwrote the bonding section of ${benchmarksFile}`)
}

function writeSection (section: string): void { writeBenchmarkSection('## VPN bonding (node dist/bench/bonding.js)', section) }

main().catch((error: unknown) => { console.error(error); process.exit(1) })
