/** One pipe session as `gst show` sees it: read from the multiplexer and its subflows, never kept. */
import type { CapHits, Multiplexer } from './mux.js'

/** One subflow (TCP connection) of a session. */
export interface PipeSubflowSnapshot {
  /** The client's path index. */
  pathId: number
  /** The path's local address (client) or the subflow's source (server), or a label. */
  path: string
  local: string
  remote: string
  state: 'up' | 'backup' | 'down'
  rttMs: number | undefined
  /** TCP congestion window, in segments (TCP_INFO). */
  cwnd: number
  /** What the scheduler plans with (TCP delivery rate or cwnd/rtt, capped by a configured rate). */
  rateBitsPerSec: number | undefined
  bytesIn: number
  bytesOut: number
  openedAtMs: number
}

export interface PipeSessionSnapshot {
  /** Unique within the process: 1, 2, ... in the order sessions came up. */
  id: number
  /** The other side's "host:port", and ours, of the session's first subflow. */
  peer: string
  local: string
  /** When the session came up (monotonic ms of the instance's clock). */
  openedAtMs: number
  rttMs: number | undefined
  rekeys: number
  /** Bytes on the wire (records, encrypted) in each direction, over all subflows. */
  bytesIn: number
  bytesOut: number
  streamsActive: number
  streamsTotal: number
  scheduler: string
  /** Sent stream bytes kept until acknowledged, and units re-sent after a subflow was lost. */
  retransmitBytes: number
  peakRetransmitBytes: number
  resentUnits: number
  /** Times each cap of the session was hit. */
  capHits: CapHits
  subflows: PipeSubflowSnapshot[]
}

export function snapshotSession (id: number, mux: Multiplexer, openedAtMs: number, peer?: string): PipeSessionSnapshot {
  const subflows: PipeSubflowSnapshot[] = mux.subflows.map((sf) => {
    const socket = sf.channel.socket
    const rate = sf.path.rate.hasEstimate() ? sf.path.planningRateBitsPerSec() / sf.path.rate.gain : undefined
    return {
      pathId: sf.spec.pathId,
      path: sf.label,
      local: `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}`,
      remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
      state: !sf.isUp ? 'down' : sf.path.preference === 'backup' ? 'backup' : 'up',
      rttMs: sf.path.rtt.hasSample() ? sf.path.rtt.srttMs : sf.channel.stats.lastRttMs,
      cwnd: sf.cwndPackets,
      rateBitsPerSec: rate,
      bytesIn: sf.channel.stats.bytesIn,
      bytesOut: sf.channel.stats.bytesOut,
      openedAtMs: sf.openedAtMs,
    }
  })
  const first = subflows[0]
  return {
    id,
    peer: peer ?? first?.remote ?? '?',
    local: first?.local ?? '?',
    openedAtMs,
    rttMs: mux.upSubflows > 0 ? mux.channel.stats.lastRttMs : undefined,
    rekeys: mux.rotations,
    bytesIn: mux.bytesIn,
    bytesOut: mux.bytesOut,
    streamsActive: mux.streams.size,
    streamsTotal: mux.streamsOpened,
    scheduler: mux.schedulerKind,
    retransmitBytes: mux.retransmitBytes,
    peakRetransmitBytes: mux.peakRetransmitBytes,
    resentUnits: mux.resentUnits,
    capHits: { ...mux.capHits },
    subflows,
  }
}
