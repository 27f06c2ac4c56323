#!/usr/bin/env node
/**
 * `npm start -- vpn` (root): ttt bonding two emulated links, in network namespaces of its own.
 * The test lab (test/lab/lab.ts) joins a client and a server namespace by l1 = 20 Mbit/s, 10 ms
 * one-way and l2 = 10 Mbit/s, 60 ms one-way (100-packet queues; ttt is told no rates). One TCP
 * flow runs through the tunnel for 20 s with a ping beside it; its sender uses CUBIC (most
 * distributions' default) whatever the host's default. A BBR v1 sender kept the bond on l1 alone
 * for seconds in a third of the runs, and through all 10 s before the cut in 1 of 51 (BENCHMARKS.md,
 * session 10); the demo is there to show the tunnel's part (bonding, failover, return). l2 is
 * blackholed at 11 s and restored at 14 s. Every second a row shows what each link carries, the flow's goodput and the
 * ping; then a summary (bond vs the links' capacity, longest stall, time until l2 is used again,
 * ping vs l1's bare RTT, bytes checked by SHA-256) and the client's `ttt show`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, labUnavailableReason, type LinkConfig } from '../test/lab/lab.js'
import { NsProcess, keygen, startTttServer, startTttClient, nsExec, ping, sleep, tttPath } from '../bench/lib/vpn.js'
import { sampleLinks, linkRateMbit, carriesDataAfterMs, flowReport, flowStalls, tcpFlowPath, type LinkSample, type FlowReport } from '../bench/lib/lab-flow.js'

const LINKS: readonly LinkConfig[] = [{ delayMs: 10, rateMbit: 20, queuePkts: 100 }, { delayMs: 60, rateMbit: 10, queuePkts: 100 }]
const CAPACITY_MBIT = 30
const FLOW_S = 20
/** Goodput counts as bonded from here on: l2's rate startup over 120 ms of RTT takes a few seconds. */
const BONDED_FROM_S = 4
const CUT_AT_S = 11
const RESTORE_AT_S = 14
const INNER_SERVER = '10.9.0.1'
/** The flow's congestion control when the kernel has it (else the namespace's default, and the demo says which). */
const FLOW_CC = 'cubic'
const PORT = 5000

/** Why the VPN demo cannot run here (root, TUN, iproute2, the lab's wire), or undefined. */
export function vpnDemoUnavailableReason (): string | undefined {
  return labUnavailableReason()
}

const mbit = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(5)
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }

/** Ping replies (time=… ms) among a running ping's lines, with their index, from line `from` on. */
function pingTimes (lines: readonly string[], from: number): number[] {
  return lines.slice(from).flatMap((l) => { const m = /time=([\d.]+) ms/.exec(l); return m ? [Number(m[1])] : [] })
}

/** Goodput in Mbit/s of the flow's sink over [fromS, toS) of its own 100 ms bins (from its first byte). */
function goodputMbit (r: FlowReport, fromS: number, toS: number): number {
  const bins = r.bins.slice(Math.round(fromS * 10), Math.round(toS * 10))
  return bins.length === 0 ? NaN : bins.reduce((a, b) => a + b, 0) * 8 / (bins.length / 10) / 1e6
}

export async function runVpnDemo (write: (text: string) => void): Promise<boolean> {
  const lab = await Lab.up({ links: LINKS })
  const controlDir = mkdtempSync(join(tmpdir(), 'gst-demo-'))
  const procs: NsProcess[] = []
  try {
    const key = keygen()
    const [c, s] = [lab.namespaces.client, lab.namespaces.server]
    const bare = await ping(c, lab.serverAddress, 5, 0.1)
    write([
      'gst demo: ttt bonding two emulated links (network namespaces of its own)',
      `  l1  20 Mbit/s, 10 ms one-way   client ${lab.clientAddress(0)}   (bare RTT to the server ${bare.minMs.toFixed(1)} ms)`,
      `  l2  10 Mbit/s, 60 ms one-way   client ${lab.clientAddress(1)}   (100-packet queues; ttt is told no rates)`,
      `  ttt server --listen ${lab.serverAddress}:${PORT} --key env:KEY --address ${INNER_SERVER}/24`,
      `  ttt client --server ${lab.serverAddress}:${PORT} --key env:KEY --address 10.9.0.2/24 --path ${lab.clientAddress(0)} --path ${lab.clientAddress(1)}`,
      '',
    ].join('\n'))
    const server = startTttServer(s, `${lab.serverAddress}:${PORT}`, `${INNER_SERVER}/24`, { key })
    procs.push(server)
    await server.waitFor(/listening/)
    const started = performance.now()
    const client = startTttClient(c, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0), lab.clientAddress(1)],
      { key, extra: ['--control-dir', controlDir, '--name', 'demo'] })
    procs.push(client)
    await client.waitFor(/session with .* up/)
    write(`  session up in ${(performance.now() - started).toFixed(0)} ms; `)
    await sleep(1000)   // a few probe rounds: both paths' RTTs known before the flow starts
    const idle = await ping(c, INNER_SERVER, 10, 0.1)
    write(`ping through the idle tunnel ${median(idle.rtts).toFixed(1)} ms\n`)

    const sink = NsProcess.spawn('tcp-flow sink', s, process.execPath, [tcpFlowPath, 'sink', INNER_SERVER, '7000'])
    procs.push(sink)
    await sink.waitFor(/^listening/)
    const hasFlowCc = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').split(/\s+/).includes(FLOW_CC)
    write(`  one TCP flow through the tunnel for ${FLOW_S} s, a ping every 0.2 s beside it; l2 is cut (blackholed) at ${CUT_AT_S} s and restored at ${RESTORE_AT_S} s\n\n`)
    write('     t   l1 on the wire   l2 on the wire   ping median\n')
    const t0 = lab.nowNs()
    const sampler = sampleLinks(lab, t0, [0, 1], 50)
    const source = NsProcess.spawn('tcp-flow source', c, process.execPath, [tcpFlowPath, 'source', INNER_SERVER, '7000', String(FLOW_S), ...(hasFlowCc ? ['--cc', FLOW_CC] : [])])
    const pinger = NsProcess.spawn('ping', c, 'ping', ['-n', '-i', '0.2', '-W', '1', INNER_SERVER])
    procs.push(source, pinger)
    let cutNs = 0n
    let restoreNs = 0n
    let pingFrom = 0
    const pingsUnderLoad: number[] = []
    for (let second = 1; second <= FLOW_S; second++) {
      const due = t0 + BigInt(second) * 1_000_000_000n
      while (lab.nowNs() < due) {
        if (cutNs === 0n && lab.nowNs() >= t0 + BigInt(CUT_AT_S * 1e9)) { cutNs = lab.nowNs(); await lab.cut(1) }
        if (restoreNs === 0n && lab.nowNs() >= t0 + BigInt(RESTORE_AT_S * 1e9)) { restoreNs = lab.nowNs(); await lab.restore(1) }
        await sleep(Math.min(50, Number(due - lab.nowNs()) / 1e6))
      }
      const samples: LinkSample[] = sampler.samples()
      const rate = (l: number): number => linkRateMbit(samples, l, (second - 1) * 1000, second * 1000)
      const times = pingTimes(pinger.lines, pingFrom)
      pingFrom = pinger.lines.length
      if (second > 2) pingsUnderLoad.push(...times)
      const event = second === CUT_AT_S + 1 ? '   <- l2 cut' : second === RESTORE_AT_S + 1 ? '   <- l2 restored' : ''
      write(`  ${String(second).padStart(3)} s        ${mbit(rate(0))} Mbit/s     ${mbit(rate(1))} Mbit/s   ${times.length > 0 ? `${median(times).toFixed(1).padStart(6)} ms` : '     -'}${event}\n`)
    }
    const code = await Promise.race([source.exited, sleep(20_000).then(() => 'timeout')])
    await Promise.race([sink.exited, sleep(5000)])
    pinger.kill()
    const samples = await sampler.stop()
    const sourceReport = JSON.parse(source.lines.find((l) => l.startsWith('{')) ?? '{}') as { bytes?: number, sha256?: string, cc?: string }
    const report = flowReport(sink.lines)
    const intact = code === 0 && report.bytes > 0 && report.bytes === sourceReport.bytes && report.sha256 === sourceReport.sha256
    const firstS = Number(BigInt(report.firstNs) - t0) / 1e9
    const cutS = Number(cutNs - t0) / 1e9
    const bonded = goodputMbit(report, BONDED_FROM_S - firstS, cutS - firstS)
    const alone = goodputMbit(report, cutS + 1 - firstS, RESTORE_AT_S - firstS)
    const after = goodputMbit(report, RESTORE_AT_S + 2 - firstS, FLOW_S - 0.5 - firstS)
    const [stallAtS, stallMs] = flowStalls(report, t0, FLOW_S)[0] ?? [0, 0]
    const backMs = carriesDataAfterMs(samples, 1, Number(restoreNs - t0) / 1e6)
    write([
      '',
      `  bonded (${BONDED_FROM_S} s to the cut):      goodput ${bonded.toFixed(1)} Mbit/s, ${(100 * bonded / CAPACITY_MBIT).toFixed(0)} % of the links' ${CAPACITY_MBIT} Mbit/s on the wire`,
      `  l2 cut:                       the flow went on over l1 alone at ${alone.toFixed(1)} Mbit/s (${(100 * alone / LINKS[0]!.rateMbit!).toFixed(0)} % of its ${LINKS[0]!.rateMbit!}: the rest is TCP/IP and tunnel headers); its longest stall ${stallMs.toFixed(0)} ms (at ${stallAtS.toFixed(1)} s)`,
      `  l2 restored:                  carrying data again after ${Number.isFinite(backMs) ? `${backMs.toFixed(0)} ms` : 'never'}; the bond back at ${after.toFixed(1)} Mbit/s`,
      `  ping under load:              median ${median(pingsUnderLoad).toFixed(1)} ms against l1's bare ${bare.minMs.toFixed(1)} ms`,
      `  the flow's congestion control: ${sourceReport.cc ?? '?'}${sourceReport.cc === 'bbr' ? ' (BBR v1 may keep the bond on l1 alone: README, current limits; --equal-delay)' : ''}`,
      `  ${(report.bytes / 1e6).toFixed(1)} MB sent: ${intact ? 'every byte arrived, in order (SHA-256 of both ends equal)' : `NOT intact (source exit ${String(code)}, ${sourceReport.bytes ?? '?'} bytes sent, ${report.bytes} received)`}`,
      '',
      '  ttt show (the client, over its control socket):',
      '',
    ].join('\n'))
    const show = await nsExec(c, process.execPath, [tttPath, 'show', '--control-dir', controlDir, 'demo'])
    write(show.stdout.split('\n').map((l) => (l === '' ? l : `    ${l}`)).join('\n') + '\n')
    return intact
  } finally {
    await Promise.all(procs.map(async (p) => await p.stop(2000)))
    await lab.down()
    rmSync(controlDir, { recursive: true, force: true })
  }
}
