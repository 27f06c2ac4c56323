import type { TraceView } from './scenario.js'

/**
 * One line per sample of what the sender's multipath core believes against what the emulated
 * links really hold: per path its state, rate estimate (Mbit/s) and gain, the modelled queue
 * (ms), and the real bottleneck queue (packets and ms at the link's rate); the inner TCP's cwnd.
 */
export function traceLine (v: TraceView): string {
  const paths = v.sender.paths.map((p, i) => {
    const link = v.forward[i]!
    const queued = link.queuedPackets()
    const realMs = (queued * 1500 * 8000) / link.spec.rateBitsPerSec
    const startup = p.rate.inStartup ? 'S' : ''
    return `${p.name} ${p.state.slice(0, 4)} est ${(p.rate.estimateBitsPerSec / 1e6).toFixed(1)}x${p.rate.gain.toFixed(2)}${startup}` +
      ` model ${p.queueDelayMs(0, v.nowMs).toFixed(0)}ms standing ${Math.min(999, p.standingQueueMs(v.nowMs)).toFixed(0)}` +
      ` link ${queued}p/${realMs.toFixed(0)}ms ovf ${Number.isFinite(p.overflowQueueMs) ? p.overflowQueueMs.toFixed(0) : '-'}ms loss ${(p.loss.lossRatio * 100).toFixed(1)}%` +
      (v.sender.fecEncoders[i] ? ` fec k ${v.sender.fecEncoders[i]!.groupSize}` : '')
  })
  const holding = v.receiver.reorder?.stats.holding ?? 0
  return `${(v.nowMs / 1000).toFixed(2).padStart(6)}s cwnd ${v.tcp.cwnd.toFixed(0).padStart(4)} refused ${String(v.sender.refused).padStart(5)} ` +
    `hold ${(v.receiver.reorder?.holdTime.holdMs ?? 0).toFixed(0)}ms holding ${holding} | ${paths.join(' | ')}`
}

/** Cumulative counts a causes line turns into per-interval ones (bench/sim/main.ts --trace-causes). */
export interface CauseCounts {
  refusedData: number
  refusedAcks: number
  skipped: number
  linkDrops: number[]
  repairs: number
  rebuilt: number
  recoveries: number
  retransmits: number
  rtos: number
  delivered: number
}

/** All counts 0 (what a run had before its first interval). */
export function noCauses (links: number): CauseCounts {
  return { refusedData: 0, refusedAcks: 0, skipped: 0, linkDrops: new Array<number>(links).fill(0), repairs: 0, rebuilt: 0, recoveries: 0, retransmits: 0, rtos: 0, delivered: 0 }
}

export function causeCounts (v: TraceView): CauseCounts {
  return {
    refusedData: v.sender.refused,
    refusedAcks: v.receiver.refused,
    skipped: v.receiver.reorder?.stats.skipped ?? 0,
    linkDrops: v.forward.map((l) => l.dropped),
    repairs: v.sender.repairs,
    rebuilt: v.receiver.fecRebuiltUnits,
    recoveries: v.tcp.recoveries,
    retransmits: v.tcp.retransmits,
    rtos: v.tcp.rtoEvents,
    delivered: v.delivered,
  }
}

/**
 * One line per interval of what the inner flow saw as loss and where it came from: data units
 * the tunnel refused, holes the reorder buffer skipped, the links' drops, the tunnel's repairs
 * and FEC rebuilds; the flow's loss recoveries (each a cwnd cut), retransmits and RTOs; its
 * cwnd and ssthresh at the end of the interval and its goodput over it.
 */
export function causesLine (v: TraceView, before: CauseCounts, now: CauseCounts, intervalMs: number): string {
  const d = (a: number, b: number): string => String(a - b).padStart(4)
  const drops = now.linkDrops.map((n, i) => `l${i + 1} ${d(n, before.linkDrops[i]!)}`).join(' ')
  const mbps = ((now.delivered - before.delivered) * 1500 * 8) / (intervalMs * 1000)
  const ssthresh = Number.isFinite(v.tcp.ssthresh) ? v.tcp.ssthresh.toFixed(0) : 'inf'
  return `${(v.nowMs / 1000).toFixed(2).padStart(6)}s goodput ${mbps.toFixed(2).padStart(6)} cwnd ${v.tcp.cwnd.toFixed(0).padStart(4)} ssthresh ${ssthresh.padStart(4)}` +
    ` | refused data ${d(now.refusedData, before.refusedData)} acks ${d(now.refusedAcks, before.refusedAcks)} skipped ${d(now.skipped, before.skipped)}` +
    ` drops ${drops} repairs ${d(now.repairs, before.repairs)} rebuilt ${d(now.rebuilt, before.rebuilt)}` +
    ` | tcp recoveries ${d(now.recoveries, before.recoveries)} rtx ${d(now.retransmits, before.retransmits)} rto ${d(now.rtos, before.rtos)}`
}
