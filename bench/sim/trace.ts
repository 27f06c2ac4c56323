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
      ` link ${queued}p/${realMs.toFixed(0)}ms loss ${(p.loss.lossRatio * 100).toFixed(1)}%` +
      (v.sender.fecEncoders[i] ? ` fec k ${v.sender.fecEncoders[i]!.groupSize}` : '')
  })
  const holding = v.receiver.reorder?.stats.holding ?? 0
  return `${(v.nowMs / 1000).toFixed(2).padStart(6)}s cwnd ${v.tcp.cwnd.toFixed(0).padStart(4)} refused ${String(v.sender.refused).padStart(5)} ` +
    `hold ${(v.receiver.reorder?.holdTime.holdMs ?? 0).toFixed(0)}ms holding ${holding} | ${paths.join(' | ')}`
}
